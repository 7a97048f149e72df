// The one executable: serve, db upgrade|downgrade|current|history, seed demo, user create, audit verify,
// backup, restore, config check, openapi, agent.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "agent/agent.hpp"
#include "audit/audit.hpp"
#include "auth/rbac.hpp"
#include "platform/config.hpp"
#include "platform/db/distribute.hpp"
#include "platform/db/result.hpp"
#include "platform/db/migrations.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/log.hpp"
#include "server/route_tables.hpp"
#include "server/runtime.hpp"
#include "kit/stored_markdown.hpp"
#include "ops/backup.hpp"
#include "seed/seed.hpp"

using namespace spectra;

// gperftools' tcmalloc, when the build links it (unsanitized builds, CMakeLists.txt): weak, so that a
// build without it runs as it is.
extern "C" int MallocExtension_SetNumericProperty(const char* property, std::size_t value) __attribute__((weak));

namespace {

// tcmalloc keeps freed memory in per-thread caches of up to 32 MiB in all and returns none of it: under
// `make soak` the server's resident memory climbed 11 to 18 % in twenty minutes while its live heap
// stayed at 5 MiB. 4 MiB of caches in all (eight threads) hold it flat; TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES,
// when set, is tcmalloc's own and wins.
void bound_allocator_caches() {
  if (MallocExtension_SetNumericProperty && !std::getenv("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES"))
    MallocExtension_SetNumericProperty("tcmalloc.max_total_thread_cache_bytes", std::size_t{4} << 20);
}

}  // namespace


int main(int argc, char** argv) {
  CLI::App cli{"SPECTRA-Lab: a multi-tenant LIMS and electronic lab notebook"};
  cli.require_subcommand(1);

  auto* serve = cli.add_subcommand("serve", "Serve the LIMS (LIMS_PORT, 8002) and Analysis (ANALYSIS_PORT, 8001) APIs");
  std::string only;
  serve->add_option("--only", only, "Serve one API only")->check(CLI::IsMember({"lims", "analysis"}));

  auto* dbcmd = cli.add_subcommand("db", "Schema migrations");
  dbcmd->require_subcommand(1);
  std::string up_target = "head", down_target;
  auto* up = dbcmd->add_subcommand("upgrade", "Apply migrations up to a revision (default head)");
  up->add_option("revision", up_target, "head, a version, or +N");
  auto* down = dbcmd->add_subcommand("downgrade", "Revert migrations down to a revision");
  down->add_option("revision", down_target, "base, a version, or -N")->required();
  auto* current = dbcmd->add_subcommand("current", "Print the applied revision");
  auto* history = dbcmd->add_subcommand("history", "List the migrations and which are applied");
  auto* distribute = dbcmd->add_subcommand(
      "distribute", "On a Citus coordinator: reference tables for organizations and the directory, every tenant table "
                    "distributed by organization_id (idempotent; docs/scale-out.md)");

  auto* statement = dbcmd->add_subcommand(
      "statement", "Print the SQL of a statement the server prepares ($1 is the organization), for EXPLAIN and pgbench");
  std::string statement_name;
  statement->add_option("name", statement_name, "Its name, as in the server's logs (say, samples_list_by_created_at)")
      ->required();
  auto* seed = cli.add_subcommand("seed", "Load data");
  seed->require_subcommand(1);
  auto* demo = seed->add_subcommand("demo", "The demo organizations, users and lab data (idempotent)");

  auto* user = cli.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  seed::NewUser nu;
  auto* create = user->add_subcommand("create", "Create a user; the password is read from standard input");
  create->add_option("--org", nu.organization, "Organization slug or id")->required();
  create->add_option("--email", nu.email)->required();
  create->add_option("--name", nu.full_name)->required();
  create->add_option("--role", nu.role)->required()->check(CLI::IsMember(std::vector<std::string>(std::begin(auth::role_names), std::end(auth::role_names))));

  auto* openapi = cli.add_subcommand("openapi", "Print a service's OpenAPI 3.1 document (no database needed)");
  std::string openapi_service;
  openapi->add_option("service", openapi_service, "lims or analysis")->required()->check(CLI::IsMember({"lims", "analysis"}));

  auto* auditcmd = cli.add_subcommand("audit", "Audit trail");
  auditcmd->require_subcommand(1);
  std::string audit_org, checkpoint_file;
  auto* verify = auditcmd->add_subcommand(
      "verify", "Recompute every organization's keyed chain (AUDIT_KEY); exit 1 on a broken link or a truncated chain");
  verify->add_option("--org", audit_org, "Only this organization id");
  verify->add_option("--checkpoints", checkpoint_file, "A file of checkpoints (JSON lines) the chain must still contain")
      ->check(CLI::ExistingFile);
  auto* checkpoint = auditcmd->add_subcommand("checkpoint", "Print each organization's chain head, signed (JSON lines)");
  checkpoint->add_option("--org", audit_org, "Only this organization id");

  auto* backupcmd = cli.add_subcommand(
      "backup", "Write one consistent set: the database (pg_dump), the stored files its rows name, the audit "
                "checkpoints and a manifest of SHA-256s");
  std::string backup_to, restore_from;
  backupcmd->add_option("--to", backup_to, "A new (or empty) folder")->required();
  auto* restorecmd = cli.add_subcommand(
      "restore", "Restore a backup set into an empty database (DATABASE_URL) and an empty DATA_DIR, once its manifest "
                 "verifies");
  restorecmd->add_option("--from", restore_from, "The set's folder")->required()->check(CLI::ExistingDirectory);

  auto* configcmd = cli.add_subcommand("config", "Configuration");
  configcmd->require_subcommand(1);
  auto* config_check = configcmd->add_subcommand(
      "check", "Print the effective configuration (secrets masked); exit 1 on settings production must not run with");

  auto* agentcmd = cli.add_subcommand(
      "agent", "On an instrument's PC: import each new file of a folder once into a run (key in SPECTRA_API_KEY)");
  agent::Options agent_options;
  agentcmd->add_option("--api", agent_options.api, "The Analysis API's URL (https://lims.example.org:8001)")->required();
  auto* agent_run = agentcmd->add_option_group("run", "Where the files go: exactly one of");
  agent_run->add_option("--run", agent_options.run_id, "This run");
  agent_run->add_flag("--run-from-barcode", agent_options.run_from_barcode,
                      "The newest RUNNING run of the sample whose barcode starts the file's name (before _ or space)");
  agent_run->require_option(1);
  agentcmd->add_option("--profile", agent_options.profile_id, "The import profile that reads the files")->required();
  agentcmd->add_option("--watch", agent_options.watch, "The folder the instrument writes to")->required();
  agentcmd->add_flag("--once", agent_options.once, "Send the files there now (once stable), wait for the answers, exit");
  agentcmd->add_option("--stable-seconds", agent_options.stable_seconds,
                       "How long a file must stay unchanged before it is sent (default 2)")
      ->check(CLI::NonNegativeNumber);

  CLI11_PARSE(cli, argc, argv);

  if (openapi->parsed()) {
    const auto router = openapi_service == "lims" ? lims_router() : analysis_router();
    std::cout << router.openapi_json(SPECTRA_VERSION) << "\n";
    return 0;
  }

  if (statement->parsed()) {
    for (const auto& [name, sql] : db::registered_queries())
      if (name == statement_name) {
        std::cout << sql << "\n";
        return 0;
      }
    std::cerr << "error: no statement named " << statement_name << "\n";
    return 1;
  }

  Config config;
  try {
    config = Config::from_env();
  } catch (const std::exception& e) {
    std::cerr << "configuration error: " << e.what() << "\n";
    return 2;
  }
  setup_logging(config);

  if (config_check->parsed()) {
    for (const auto& [name, value] : config.describe()) std::cout << name << "=" << value << "\n";
    const auto problems = config.production_problems();
    for (const auto& p : problems) std::cerr << "refused: " << p << "\n";
    if (problems.empty()) std::cout << "ok: nothing refused for production\n";
    return problems.empty() ? 0 : 1;
  }

  if (agentcmd->parsed()) {
    if (const char* key = std::getenv("SPECTRA_API_KEY")) agent_options.api_key = key;
    return agent::run(agent_options);
  }

  try {
    if (serve->parsed()) {
      bound_allocator_caches();
      ServeOptions opt;
      opt.lims = only.empty() || only == "lims";
      opt.analysis = only.empty() || only == "analysis";
      Runtime runtime(config, opt);
      runtime.start();
      runtime.run_until_signal();
      return 0;
    }
    if (backupcmd->parsed()) {
      ops::backup(owner_database_url(config), config, backup_to, std::cout);
      return 0;
    }
    if (restorecmd->parsed()) {
      ops::restore(owner_database_url(config), config, restore_from, std::cout);
      return 0;
    }
    db::BlockingConnection conn(owner_database_url(config));
    if (up->parsed() || down->parsed() || current->parsed() || history->parsed()) {
      db::Migrator m(conn);
      if (up->parsed()) {
        m.upgrade(m.resolve(up_target), std::cout);
        // Markdown is rendered when it is written; what another renderer made is rendered again here.
        if (m.current() == m.head())
          if (const auto n = kit::render_stale_documents(conn)) std::cout << "rendered " << n << " documents again\n";
      }
      if (down->parsed()) m.downgrade(m.resolve(down_target), std::cout);
      if (current->parsed()) {
        const int cur = m.current();
        std::string name;
        for (const auto& s : db::embedded_migrations())
          if (s.version == cur) name = std::string(" ") + s.name;
        std::cout << cur << name << (cur == m.head() ? " (head)" : cur == 0 ? " (base)" : " (behind head)") << "\n";
      }
      if (history->parsed()) {
        auto applied = m.applied();
        for (const auto& s : db::embedded_migrations()) {
          std::string at = "pending";
          for (const auto& a : applied)
            if (a.version == s.version) at = "applied " + a.applied_at;
          std::cout << s.version << " " << s.name << " (" << at << ")" << (s.version == m.head() ? " head" : "") << "\n";
        }
      }
      return 0;
    }
    db::require_schema_at_head(conn);
    if (distribute->parsed()) {
      db::distribute(conn, std::cout);
      return 0;
    }
    if (demo->parsed()) {
      seed::demo(conn, std::cout);
      kit::render_stale_documents(conn);
      return 0;
    }
    if (create->parsed()) {
      if (isatty(STDIN_FILENO)) std::cerr << "password: ";
      std::getline(std::cin, nu.password);
      std::cout << seed::create_user(conn, nu) << "\n";
      return 0;
    }
    if (verify->parsed() || checkpoint->parsed()) {
      if (config.audit_key.empty()) {
        std::cerr << "error: set AUDIT_KEY or AUDIT_KEY_FILE (the key the server links the audit trail with)\n";
        return 2;
      }
      std::optional<std::string> org;
      if (!audit_org.empty()) org = audit_org;
      if (checkpoint->parsed()) {
        const audit::CheckpointSigner signer(config.audit_key);
        for (const auto& c : audit::checkpoints(conn, org, signer)) std::cout << audit::to_json(c) << "\n";
        return 0;
      }
      std::vector<audit::Checkpoint> kept;
      if (!checkpoint_file.empty()) {
        std::ifstream in(checkpoint_file);
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
          if (line.empty()) continue;
          auto c = audit::checkpoint_from_json(line);
          if (!c) {
            std::cerr << "error: " << checkpoint_file << " line " << n << " is not a checkpoint\n";
            return 2;
          }
          kept.push_back(std::move(*c));
        }
      }
      bool ok = true;
      for (const auto& r : audit::verify(conn, org, config.audit_key, kept)) {
        const std::string pending = r.pending ? " (" + std::to_string(r.pending) + " not linked yet)" : "";
        if (r.intact) {
          std::cout << "organization " << r.organization_id << ": " << r.events << " events, chain intact" << pending << "\n";
        } else {
          ok = false;
          std::cout << "organization " << r.organization_id << ": BROKEN at seq " << r.broken_seq << ": " << r.problem << "\n";
        }
      }
      return ok ? 0 : 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
