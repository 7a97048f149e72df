# SPECTRA-Lab. `make run` builds (the server and the web app), starts a private PostgreSQL (unless
# DATABASE_URL is set), migrates, seeds the demo data and serves 8002 (the web app and the LIMS API)
# and 8001 (Analysis). `make test` runs every test.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
BUILD_TYPE ?= RelWithDebInfo
BUILD_DIR ?= build
TEST_BUILD_DIR ?= build-test
JOBS ?= $(shell nproc)
SPECTRA := $(BUILD_DIR)/spectra
export SPECTRA_HOME := $(CURDIR)

.PHONY: all bootstrap build run serve stop migrate seed reset test test-citus test-faults test-image image fuzz soak unit integration bench clean audit-verify

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/CMakeCache.txt:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSPECTRA_TESTS=OFF >/dev/null

build: bootstrap $(BUILD_DIR)/CMakeCache.txt
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target spectra
	@scripts/build-web

migrate: build
	@$(SPECTRA) db upgrade

seed: migrate
	@$(SPECTRA) seed demo

run: seed
	@echo "The web app and the LIMS API on http://$${HOST:-127.0.0.1}:$${LIMS_PORT:-8002}/ (sign in as engineer@acme.com / eng123), the Analysis API on http://$${HOST:-127.0.0.1}:$${ANALYSIS_PORT:-8001}, metrics on http://$${METRICS_HOST:-127.0.0.1}:$${METRICS_PORT:-9464}/metrics (Ctrl-C stops)"
	@export JWT_SECRET="$${JWT_SECRET:-$$(scripts/dev-secret)}" METRICS_PORT="$${METRICS_PORT:-9464}" METRICS_HOST="$${METRICS_HOST:-127.0.0.1}"; \
	  [ -n "$${AUDIT_KEY_FILE:-}" ] || export AUDIT_KEY="$${AUDIT_KEY:-$$(scripts/dev-secret audit)}"; \
	  exec $(SPECTRA) serve

# Verifies the private database's audit trail with the development audit key.
audit-verify: build
	@[ -n "$${AUDIT_KEY_FILE:-}" ] || export AUDIT_KEY="$${AUDIT_KEY:-$$(scripts/dev-secret audit)}"; \
	  $(SPECTRA) audit verify

# Stops the private PostgreSQL cluster (a running `make run` stops with Ctrl-C or SIGTERM).
stop:
	@scripts/pg stop run

# Drops and recreates the private database, then migrates and seeds it.
reset: build
	@scripts/pg destroy run
	@$(SPECTRA) db upgrade && $(SPECTRA) seed demo

test: bootstrap
	@scripts/test

# The integration suite on a private Citus cluster (a coordinator and two workers); skips with a
# message when Citus is neither installed nor buildable from ../shared/vendor (docs/scale-out.md).
test-citus: bootstrap
	@scripts/test-citus

test-faults: bootstrap
	@scripts/test-faults

# The container image (deploy/Containerfile) from a Debian root file system made with mmdebstrap; needs
# podman (docs in the README, "Operate it").
image: build
	@scripts/image

# Builds the image, starts deploy/compose.yaml and walks the README's walkthrough against it; skips
# with a message where podman cannot run containers.
test-image:
	@scripts/test-image

fuzz: bootstrap
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) scripts/fuzz

bench: bootstrap
	@scripts/bench

# Twenty minutes (SOAK_MINUTES) of a mixed workload from several labs against one server (not in CI).
soak: bootstrap
	@SOAK_MINUTES=$(or $(SOAK_MINUTES),20) scripts/soak

clean:
	rm -rf $(BUILD_DIR) $(TEST_BUILD_DIR)
