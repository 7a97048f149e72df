-- SPECTRA-Lab initial schema (PostgreSQL 15).
--
-- Run by the migrator as one simple-query string inside its own transaction, as the database
-- owner role. Every tenant table is keyed (organization_id, id), references other tenant tables
-- through composite foreign keys, and is guarded by row-level security for the application role
-- spectra_app. Uniform per-table boilerplate (updated_at trigger, RLS, policies, grants) is applied
-- by the DO block at the end of this file from explicit table lists.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spectra_app') THEN
        CREATE ROLE spectra_app LOGIN;
    END IF;
END
$$;

CREATE SCHEMA app;

-- ---------------------------------------------------------------------------------------------
-- Helper functions
-- ---------------------------------------------------------------------------------------------

-- The caller's organization, set per transaction by the server with set_config('app.org_id', ..., true).
-- After such a transaction the setting reads as '' rather than NULL, hence NULLIF.
CREATE FUNCTION app.current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;

CREATE FUNCTION app.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

CREATE FUNCTION app.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------------------------

CREATE TABLE organizations (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    slug            text        NOT NULL CHECK (btrim(slug) <> ''),
    settings        jsonb       NOT NULL
                    DEFAULT '{"recipe_approvals_required": 1, "final_approval_by_admin": false}'
                    CHECK (jsonb_typeof(settings) = 'object'),
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    organization_id     uuid        NOT NULL REFERENCES organizations (id),
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    email               text        NOT NULL CHECK (strpos(email, '@') > 0),
    full_name           text        NOT NULL,
    role                text        NOT NULL
                        CHECK (role IN ('admin', 'pi', 'engineer', 'technician', 'viewer')),
    password_hash       text,
    is_active           boolean     NOT NULL DEFAULT true,
    is_service_account  boolean     NOT NULL DEFAULT false,
    last_login_at       timestamptz,
    password_changed_at timestamptz,
    extra_metadata      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (organization_id, id),
    -- A service account acts only through API keys; it can never log in with a password.
    CONSTRAINT users_service_account_no_password_check
        CHECK (NOT is_service_account OR password_hash IS NULL)
);
-- Login is by email alone, so emails are unique across all organizations.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_created_idx ON users (organization_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL,
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    prefix          text        NOT NULL,
    key_hash        bytea       NOT NULL,
    scopes          text[]      NOT NULL DEFAULT '{}' CHECK (array_position(scopes, NULL) IS NULL),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    revoked_by      uuid,
    last_used_at    timestamptz,
    created_by      uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, revoked_by) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX api_keys_org_created_idx ON api_keys (organization_id, created_at DESC, id DESC);
CREATE INDEX api_keys_user_idx ON api_keys (organization_id, user_id);

CREATE TABLE refresh_tokens (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL,
    family_id       uuid        NOT NULL,
    token_hash      bytea       NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    replaced_by     uuid,
    revoked_at      timestamptz,
    revoked_reason  text,
    client_addr     text,
    user_agent      text,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
    -- Deferred so rotation may mark the old token before or after inserting its successor.
    CONSTRAINT refresh_tokens_replaced_by_fkey FOREIGN KEY (organization_id, replaced_by)
        REFERENCES refresh_tokens (organization_id, id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (organization_id, family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (organization_id, user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Append-only and hash-chained per organization: seq, prev_hash, hash and created_at are set by
-- the BEFORE INSERT trigger app.audit_chain(), whatever the inserting statement supplied.
CREATE TABLE audit_events (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    seq             bigint      NOT NULL CHECK (seq >= 1),
    actor_id        uuid,
    actor_type      text        NOT NULL DEFAULT 'user'
                    CHECK (actor_type IN ('user', 'api_key', 'system')),
    action          text        NOT NULL CHECK (btrim(action) <> ''),
    entity_type     text,
    entity_id       uuid,
    before          jsonb,
    after           jsonb,
    request_id      text,
    client_addr     text,
    prev_hash       bytea,
    hash            bytea       NOT NULL,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_events_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT audit_events_seq_key UNIQUE (organization_id, seq),
    FOREIGN KEY (organization_id, actor_id) REFERENCES users (organization_id, id)
);
CREATE INDEX audit_events_org_created_idx ON audit_events (organization_id, created_at DESC, id DESC);
CREATE INDEX audit_events_entity_idx
    ON audit_events (organization_id, entity_type, entity_id, created_at DESC, id DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (organization_id, actor_id, created_at DESC, id DESC);
CREATE INDEX audit_events_action_idx ON audit_events (organization_id, action, created_at DESC, id DESC);

-- Canonical text of an audit row; the chain hash is
-- sha256(coalesce(prev_hash, '') || convert_to(app.audit_payload(row), 'UTF8')).
-- Every field is coalesced to '' so that positions stay fixed (concat_ws would skip NULLs).
CREATE FUNCTION app.audit_payload(e public.audit_events) RETURNS text
    LANGUAGE sql STABLE
    AS $$
SELECT concat_ws('|',
    coalesce(e.organization_id::text, ''),
    coalesce(e.seq::text, ''),
    coalesce(e.actor_id::text, ''),
    coalesce(e.actor_type, ''),
    coalesce(e.action, ''),
    coalesce(e.entity_type, ''),
    coalesce(e.entity_id::text, ''),
    coalesce(e.before::text, ''),
    coalesce(e.after::text, ''),
    coalesce(e.request_id, ''),
    coalesce(e.client_addr, ''),
    coalesce(to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''))
$$;

-- SECURITY DEFINER so it sees the organization's previous event through the owner_access policy
-- even when the inserting role could not; the advisory lock serializes inserts per organization.
CREATE FUNCTION app.audit_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, app, pg_temp
    AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || NEW.organization_id::text, 0));

    SELECT a.seq, a.hash INTO last_seq, last_hash
      FROM public.audit_events a
     WHERE a.organization_id = NEW.organization_id
     ORDER BY a.seq DESC
     LIMIT 1;

    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    NEW.seq        := coalesce(last_seq, 0) + 1;
    NEW.prev_hash  := last_hash;
    NEW.hash       := sha256(coalesce(NEW.prev_hash, ''::bytea)
                             || convert_to(app.audit_payload(NEW), 'UTF8'));
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_chain BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION app.audit_chain();

-- ---------------------------------------------------------------------------------------------
-- Instruments and quality
-- ---------------------------------------------------------------------------------------------

CREATE TABLE instruments (
    organization_id           uuid        NOT NULL REFERENCES organizations (id),
    id                        uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                      text        NOT NULL CHECK (btrim(name) <> ''),
    vendor                    text        NOT NULL,
    model                     text        NOT NULL,
    serial_number             text        NOT NULL,
    location                  text,
    calibration_interval_days integer     CHECK (calibration_interval_days > 0),
    status                    text        NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'maintenance', 'retired')),
    created_by                uuid,
    extra_metadata            jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted                boolean     NOT NULL DEFAULT false,
    deleted_at                timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT instruments_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX instruments_org_created_idx ON instruments (organization_id, created_at DESC, id DESC);

CREATE TABLE calibrations (
    organization_id    uuid        NOT NULL REFERENCES organizations (id),
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    instrument_id      uuid        NOT NULL,
    certificate_number text        NOT NULL CHECK (btrim(certificate_number) <> ''),
    calibrated_at      timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    status             text        NOT NULL DEFAULT 'VALID'
                       CHECK (status IN ('VALID', 'PENDING', 'EXPIRED', 'REVOKED')),
    provider           text,
    revoked_at         timestamptz,
    revoked_by         uuid,
    expired_at         timestamptz,
    expired_by         uuid,
    reason             text,
    created_by         uuid,
    extra_metadata     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calibrations_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT calibrations_expires_after_calibrated_check CHECK (expires_at > calibrated_at),
    CONSTRAINT calibrations_revoked_at_check CHECK (status <> 'REVOKED' OR revoked_at IS NOT NULL),
    FOREIGN KEY (organization_id, instrument_id) REFERENCES instruments (organization_id, id),
    FOREIGN KEY (organization_id, revoked_by) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, expired_by) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX calibrations_org_created_idx ON calibrations (organization_id, created_at DESC, id DESC);
-- The lockout check: the latest calibration of an instrument.
CREATE INDEX calibrations_instrument_latest_idx
    ON calibrations (organization_id, instrument_id, calibrated_at DESC, created_at DESC, id DESC);
CREATE INDEX calibrations_instrument_created_idx
    ON calibrations (organization_id, instrument_id, created_at DESC, id DESC);

CREATE TABLE sops (
    organization_id     uuid        NOT NULL REFERENCES organizations (id),
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    code                text        NOT NULL CHECK (btrim(code) <> ''),
    version             integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    title               text        NOT NULL CHECK (btrim(title) <> ''),
    body_markdown       text        NOT NULL,
    status              text        NOT NULL DEFAULT 'DRAFT'
                        CHECK (status IN ('DRAFT', 'EFFECTIVE', 'OBSOLETE')),
    previous_version_id uuid        CHECK (previous_version_id <> id),
    approved_by         uuid,
    approved_at         timestamptz,
    created_by          uuid,
    extra_metadata      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted          boolean     NOT NULL DEFAULT false,
    deleted_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sops_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT sops_code_version_key UNIQUE (organization_id, code, version),
    FOREIGN KEY (organization_id, previous_version_id) REFERENCES sops (organization_id, id),
    FOREIGN KEY (organization_id, approved_by) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
-- One effective version per SOP code: obsolete the old version before making the new one effective.
CREATE UNIQUE INDEX sops_effective_code_key ON sops (organization_id, code)
    WHERE status = 'EFFECTIVE' AND NOT is_deleted;
CREATE INDEX sops_org_created_idx ON sops (organization_id, created_at DESC, id DESC);

CREATE TABLE sop_acknowledgements (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    sop_id          uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    acknowledged_at timestamptz NOT NULL DEFAULT now(),
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sop_acknowledgements_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT sop_acknowledgements_sop_user_key UNIQUE (organization_id, sop_id, user_id),
    FOREIGN KEY (organization_id, sop_id) REFERENCES sops (organization_id, id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id)
);
CREATE INDEX sop_acknowledgements_user_idx ON sop_acknowledgements (organization_id, user_id);

-- ---------------------------------------------------------------------------------------------
-- Samples
-- ---------------------------------------------------------------------------------------------

CREATE TABLE materials (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    formula         text,
    category        text,
    properties      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    created_by      uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT materials_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX materials_org_created_idx ON materials (organization_id, created_at DESC, id DESC);

CREATE TABLE samples (
    organization_id  uuid        NOT NULL REFERENCES organizations (id),
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    name             text        NOT NULL CHECK (btrim(name) <> ''),
    barcode          text        CHECK (btrim(barcode) <> ''),
    sample_type      text        NOT NULL
                     CHECK (sample_type IN ('wafer', 'die', 'powder', 'film', 'bulk', 'solution', 'other')),
    material_id      uuid,
    parent_sample_id uuid        CHECK (parent_sample_id <> id),
    location         text,
    status           text        NOT NULL DEFAULT 'available'
                     CHECK (status IN ('available', 'in_use', 'checked_out', 'consumed', 'disposed',
                                       'quarantined')),
    custodian_id     uuid,
    created_by       uuid,
    extra_metadata   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted       boolean     NOT NULL DEFAULT false,
    deleted_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT samples_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, material_id) REFERENCES materials (organization_id, id),
    FOREIGN KEY (organization_id, parent_sample_id) REFERENCES samples (organization_id, id),
    FOREIGN KEY (organization_id, custodian_id) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
-- Barcode unique per organization among live samples (NULL barcodes never collide); also serves
-- the ?barcode= filter for queries that say NOT is_deleted.
CREATE UNIQUE INDEX samples_barcode_key ON samples (organization_id, barcode) WHERE NOT is_deleted;
CREATE INDEX samples_org_created_idx ON samples (organization_id, created_at DESC, id DESC);
CREATE INDEX samples_material_idx ON samples (organization_id, material_id, created_at DESC, id DESC);
CREATE INDEX samples_status_idx ON samples (organization_id, status, created_at DESC, id DESC);
CREATE INDEX samples_parent_idx ON samples (organization_id, parent_sample_id);
CREATE INDEX samples_name_trgm_idx ON samples USING gin (name gin_trgm_ops);

CREATE TABLE wafers (
    organization_id    uuid        NOT NULL REFERENCES organizations (id),
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    sample_id          uuid        NOT NULL,
    diameter_mm        integer     NOT NULL CHECK (diameter_mm IN (50, 76, 100, 125, 150, 200, 300, 450)),
    orientation        text        NOT NULL CHECK (orientation IN ('<100>', '<110>', '<111>')),
    doping_type        text        NOT NULL CHECK (doping_type IN ('n', 'p', 'undoped')),
    dopant             text,
    -- > 0 and < Infinity also refuses NaN (NaN sorts above Infinity in PostgreSQL).
    resistivity_ohm_cm double precision CHECK (resistivity_ohm_cm > 0 AND resistivity_ohm_cm < 'Infinity'),
    thickness_um       double precision CHECK (thickness_um > 0 AND thickness_um < 'Infinity'),
    created_by         uuid,
    extra_metadata     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted         boolean     NOT NULL DEFAULT false,
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT wafers_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT wafers_sample_key UNIQUE (organization_id, sample_id),
    FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX wafers_org_created_idx ON wafers (organization_id, created_at DESC, id DESC);

CREATE TABLE devices (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    wafer_id        uuid        NOT NULL,
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    device_type     text,
    die_x           integer,
    die_y           integer,
    layout          jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(layout) = 'object'),
    created_by      uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT devices_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, wafer_id) REFERENCES wafers (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX devices_org_created_idx ON devices (organization_id, created_at DESC, id DESC);
CREATE INDEX devices_wafer_idx ON devices (organization_id, wafer_id, created_at DESC, id DESC);

-- Append-only (spectra_app has SELECT and INSERT only).
CREATE TABLE custody_events (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    sample_id       uuid        NOT NULL,
    event_type      text        NOT NULL
                    CHECK (event_type IN ('create', 'transfer', 'check_out', 'return', 'consume', 'dispose')),
    from_location   text,
    to_location     text,
    from_user_id    uuid,
    to_user_id      uuid,
    actor_id        uuid,
    notes           text,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT custody_events_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id),
    FOREIGN KEY (organization_id, from_user_id) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, to_user_id) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, actor_id) REFERENCES users (organization_id, id)
);
CREATE INDEX custody_events_sample_idx ON custody_events (organization_id, sample_id, created_at, id);

-- ---------------------------------------------------------------------------------------------
-- Process
-- ---------------------------------------------------------------------------------------------

CREATE TABLE recipes (
    organization_id     uuid        NOT NULL REFERENCES organizations (id),
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                text        NOT NULL CHECK (btrim(name) <> ''),
    description         text,
    instrument_id       uuid,
    sop_id              uuid,
    parameters          jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    version             integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- The first version's id; NULL (or the row's own id) on the first version.
    root_recipe_id      uuid,
    previous_version_id uuid        CHECK (previous_version_id <> id),
    status              text        NOT NULL DEFAULT 'DRAFT'
                        CHECK (status IN ('DRAFT', 'PENDING_APPROVAL', 'APPROVED', 'REJECTED', 'SUPERSEDED')),
    author_id           uuid        NOT NULL,
    submitted_at        timestamptz,
    approved_at         timestamptz,
    rejected_at         timestamptz,
    extra_metadata      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted          boolean     NOT NULL DEFAULT false,
    deleted_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recipes_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, instrument_id) REFERENCES instruments (organization_id, id),
    FOREIGN KEY (organization_id, sop_id) REFERENCES sops (organization_id, id),
    FOREIGN KEY (organization_id, root_recipe_id) REFERENCES recipes (organization_id, id),
    FOREIGN KEY (organization_id, previous_version_id) REFERENCES recipes (organization_id, id),
    FOREIGN KEY (organization_id, author_id) REFERENCES users (organization_id, id)
);
-- One row per (recipe lineage, version).
CREATE UNIQUE INDEX recipes_root_version_key
    ON recipes (organization_id, (coalesce(root_recipe_id, id)), version);
CREATE INDEX recipes_org_created_idx ON recipes (organization_id, created_at DESC, id DESC);
CREATE INDEX recipes_status_idx ON recipes (organization_id, status, created_at DESC, id DESC);

CREATE TABLE recipe_approvals (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    recipe_id       uuid        NOT NULL,
    approver_id     uuid        NOT NULL,
    decision        text        NOT NULL CHECK (decision IN ('APPROVED', 'REJECTED')),
    comment         text,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recipe_approvals_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT recipe_approvals_recipe_approver_key UNIQUE (organization_id, recipe_id, approver_id),
    CONSTRAINT recipe_approvals_reject_comment_check
        CHECK (decision <> 'REJECTED' OR btrim(coalesce(comment, '')) <> ''),
    FOREIGN KEY (organization_id, recipe_id) REFERENCES recipes (organization_id, id),
    FOREIGN KEY (organization_id, approver_id) REFERENCES users (organization_id, id)
);

CREATE TABLE runs (
    organization_id    uuid        NOT NULL REFERENCES organizations (id),
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    instrument_id      uuid        NOT NULL,
    sample_id          uuid        NOT NULL,
    recipe_id          uuid,
    sop_id             uuid,
    kind               text        NOT NULL DEFAULT 'measurement'
                       CHECK (kind IN ('measurement', 'calibration')),
    -- No default: the calibration lockout decides QUEUED or BLOCKED.
    status             text        NOT NULL
                       CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'BLOCKED')),
    blocked_reason     text,
    calibration_exempt boolean     NOT NULL DEFAULT false,
    parameters         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    note               text,
    created_by         uuid,
    started_at         timestamptz,
    completed_at       timestamptz,
    blocked_at         timestamptz,
    extra_metadata     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runs_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT runs_blocked_reason_check CHECK (status <> 'BLOCKED' OR blocked_reason IS NOT NULL),
    CONSTRAINT runs_calibration_exempt_check CHECK (NOT calibration_exempt OR kind = 'calibration'),
    FOREIGN KEY (organization_id, instrument_id) REFERENCES instruments (organization_id, id),
    FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id),
    FOREIGN KEY (organization_id, recipe_id) REFERENCES recipes (organization_id, id),
    FOREIGN KEY (organization_id, sop_id) REFERENCES sops (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX runs_org_created_idx ON runs (organization_id, created_at DESC, id DESC);
CREATE INDEX runs_status_idx ON runs (organization_id, status, created_at DESC, id DESC);
CREATE INDEX runs_instrument_idx ON runs (organization_id, instrument_id, created_at DESC, id DESC);
CREATE INDEX runs_sample_idx ON runs (organization_id, sample_id, created_at DESC, id DESC);
CREATE INDEX runs_recipe_idx ON runs (organization_id, recipe_id);

CREATE TABLE results (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    run_id          uuid        NOT NULL,
    metric          text        NOT NULL CHECK (btrim(metric) <> ''),
    value           double precision NOT NULL
                    CHECK (value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)),
    unit            text,
    data            jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    recorded_by     uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT results_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id),
    FOREIGN KEY (organization_id, recorded_by) REFERENCES users (organization_id, id)
);
CREATE INDEX results_run_idx ON results (organization_id, run_id, created_at DESC, id DESC);

CREATE TABLE attachments (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    filename        text        NOT NULL CHECK (btrim(filename) <> ''),
    content_type    text        NOT NULL,
    size_bytes      bigint      NOT NULL CHECK (size_bytes >= 0),
    sha256          bytea       NOT NULL CHECK (octet_length(sha256) = 32),
    content         bytea       NOT NULL,
    run_id          uuid,
    entity_type     text,
    entity_id       uuid,
    uploaded_by     uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT attachments_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT attachments_size_check CHECK (size_bytes = octet_length(content)),
    CONSTRAINT attachments_entity_check CHECK ((entity_type IS NULL) = (entity_id IS NULL)),
    FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id),
    FOREIGN KEY (organization_id, uploaded_by) REFERENCES users (organization_id, id)
);
CREATE INDEX attachments_org_created_idx ON attachments (organization_id, created_at DESC, id DESC);
CREATE INDEX attachments_run_idx ON attachments (organization_id, run_id, created_at DESC, id DESC);
CREATE INDEX attachments_entity_idx ON attachments (organization_id, entity_type, entity_id);

-- ---------------------------------------------------------------------------------------------
-- Notebook
-- ---------------------------------------------------------------------------------------------

CREATE TABLE eln_entries (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    title           text        NOT NULL CHECK (btrim(title) <> ''),
    body_markdown   text        NOT NULL,
    tags            text[]      NOT NULL DEFAULT '{}' CHECK (array_position(tags, NULL) IS NULL),
    sample_ids      uuid[]      NOT NULL DEFAULT '{}' CHECK (array_position(sample_ids, NULL) IS NULL),
    author_id       uuid        NOT NULL,
    amends_entry_id uuid        CHECK (amends_entry_id <> id),
    locked_at       timestamptz,
    signed          boolean     NOT NULL DEFAULT false,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT eln_entries_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT eln_entries_signed_locked_check CHECK (NOT signed OR locked_at IS NOT NULL),
    FOREIGN KEY (organization_id, author_id) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, amends_entry_id) REFERENCES eln_entries (organization_id, id)
);
CREATE INDEX eln_entries_org_created_idx ON eln_entries (organization_id, created_at DESC, id DESC);
CREATE INDEX eln_entries_author_idx ON eln_entries (organization_id, author_id);
CREATE INDEX eln_entries_amends_idx ON eln_entries (organization_id, amends_entry_id);

-- A locked (signed) entry keeps its content, so its signatures' hashes stay verifiable: only the
-- signing flags and soft deletion may change. The server refuses such edits first (409); this is
-- the backstop. Raised as SQLSTATE 55000 (object_not_in_prerequisite_state).
CREATE FUNCTION app.eln_entry_lock_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.locked_at IS NOT NULL AND (
           NEW.locked_at IS NULL
        OR NEW.signed IS DISTINCT FROM true
        OR (NEW.title, NEW.body_markdown, NEW.tags, NEW.sample_ids, NEW.author_id,
            NEW.amends_entry_id, NEW.extra_metadata, NEW.organization_id, NEW.id)
           IS DISTINCT FROM
           (OLD.title, OLD.body_markdown, OLD.tags, OLD.sample_ids, OLD.author_id,
            OLD.amends_entry_id, OLD.extra_metadata, OLD.organization_id, OLD.id))
    THEN
        RAISE EXCEPTION 'eln entry % is signed and locked', OLD.id
            USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER eln_entry_lock_guard BEFORE UPDATE ON eln_entries
    FOR EACH ROW EXECUTE FUNCTION app.eln_entry_lock_guard();

-- Append-only (spectra_app has SELECT and INSERT only).
CREATE TABLE signatures (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    entry_id        uuid        NOT NULL,
    signer_id       uuid        NOT NULL,
    signer_name     text        NOT NULL CHECK (btrim(signer_name) <> ''),
    meaning         text        NOT NULL CHECK (meaning IN ('author', 'reviewer', 'approver')),
    content_sha256  bytea       NOT NULL CHECK (octet_length(content_sha256) = 32),
    signed_at       timestamptz NOT NULL DEFAULT now(),
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signatures_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, entry_id) REFERENCES eln_entries (organization_id, id),
    FOREIGN KEY (organization_id, signer_id) REFERENCES users (organization_id, id)
);
CREATE INDEX signatures_entry_idx ON signatures (organization_id, entry_id, created_at DESC, id DESC);

-- ---------------------------------------------------------------------------------------------
-- SPC
-- ---------------------------------------------------------------------------------------------

CREATE TABLE spc_series (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    metric          text        NOT NULL CHECK (btrim(metric) <> ''),
    unit            text,
    chart_type      text        NOT NULL CHECK (chart_type IN ('I-MR', 'XBAR-R')),
    subgroup_size   integer,
    lsl             double precision CHECK (lsl > '-Infinity' AND lsl < 'Infinity'),
    usl             double precision CHECK (usl > '-Infinity' AND usl < 'Infinity'),
    target          double precision CHECK (target > '-Infinity' AND target < 'Infinity'),
    center_line     double precision CHECK (center_line > '-Infinity' AND center_line < 'Infinity'),
    ucl             double precision CHECK (ucl > '-Infinity' AND ucl < 'Infinity'),
    lcl             double precision CHECK (lcl > '-Infinity' AND lcl < 'Infinity'),
    baseline_points integer     CHECK (baseline_points >= 2),
    instrument_id   uuid,
    hold_on_alert   boolean     NOT NULL DEFAULT false,
    created_by      uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT spc_series_pkey PRIMARY KEY (organization_id, id),
    -- X-bar/R needs subgroups of 2..25 (the range of the published control-chart constants);
    -- I-MR charts individual points. (Written so that a NULL subgroup_size makes it false, not NULL.)
    CONSTRAINT spc_series_subgroup_size_check CHECK (
        (chart_type = 'XBAR-R' AND subgroup_size IS NOT NULL AND subgroup_size BETWEEN 2 AND 25)
        OR (chart_type = 'I-MR' AND coalesce(subgroup_size, 1) = 1)),
    CONSTRAINT spc_series_spec_limits_check CHECK (lsl < usl),
    CONSTRAINT spc_series_control_limits_check CHECK (lcl < ucl),
    CONSTRAINT spc_series_hold_needs_instrument_check CHECK (NOT hold_on_alert OR instrument_id IS NOT NULL),
    FOREIGN KEY (organization_id, instrument_id) REFERENCES instruments (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX spc_series_org_created_idx ON spc_series (organization_id, created_at DESC, id DESC);
CREATE INDEX spc_series_instrument_idx ON spc_series (organization_id, instrument_id);

CREATE TABLE spc_datapoints (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- Insertion order: points of one batch share created_at (now() is per transaction), so the
    -- rules and the charts order points by seq.
    seq             bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    series_id       uuid        NOT NULL,
    value           double precision NOT NULL
                    CHECK (value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)),
    measured_at     timestamptz NOT NULL DEFAULT now(),
    run_id          uuid,
    subgroup        integer     CHECK (subgroup >= 1),
    violations      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(violations) = 'array'),
    recorded_by     uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT spc_datapoints_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, series_id) REFERENCES spc_series (organization_id, id),
    FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id),
    FOREIGN KEY (organization_id, recorded_by) REFERENCES users (organization_id, id)
);
CREATE INDEX spc_datapoints_series_seq_idx ON spc_datapoints (organization_id, series_id, seq);
CREATE INDEX spc_datapoints_series_created_idx
    ON spc_datapoints (organization_id, series_id, created_at DESC, id DESC);

CREATE TABLE spc_alerts (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    series_id       uuid        NOT NULL,
    datapoint_id    uuid        NOT NULL,
    rule            integer     NOT NULL CHECK (rule BETWEEN 1 AND 8),
    point_ids       uuid[]      NOT NULL DEFAULT '{}' CHECK (array_position(point_ids, NULL) IS NULL),
    status          text        NOT NULL DEFAULT 'OPEN'
                    CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')),
    acknowledged_by uuid,
    acknowledged_at timestamptz,
    resolved_by     uuid,
    resolved_at     timestamptz,
    note            text,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT spc_alerts_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT spc_alerts_acknowledged_check CHECK (status <> 'ACKNOWLEDGED' OR acknowledged_at IS NOT NULL),
    CONSTRAINT spc_alerts_resolved_check CHECK (status <> 'RESOLVED' OR resolved_at IS NOT NULL),
    FOREIGN KEY (organization_id, series_id) REFERENCES spc_series (organization_id, id),
    FOREIGN KEY (organization_id, datapoint_id) REFERENCES spc_datapoints (organization_id, id),
    FOREIGN KEY (organization_id, acknowledged_by) REFERENCES users (organization_id, id),
    FOREIGN KEY (organization_id, resolved_by) REFERENCES users (organization_id, id)
);
CREATE INDEX spc_alerts_org_created_idx ON spc_alerts (organization_id, created_at DESC, id DESC);
CREATE INDEX spc_alerts_series_status_idx
    ON spc_alerts (organization_id, series_id, status, created_at DESC, id DESC);
CREATE INDEX spc_alerts_status_idx ON spc_alerts (organization_id, status, created_at DESC, id DESC);

-- ---------------------------------------------------------------------------------------------
-- ML registry
-- ---------------------------------------------------------------------------------------------

CREATE TABLE feature_sets (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    version         integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    features        jsonb       NOT NULL CHECK (jsonb_typeof(features) = 'array'),
    description     text,
    created_by      uuid,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feature_sets_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT feature_sets_name_version_key UNIQUE (organization_id, name, version),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
CREATE INDEX feature_sets_org_created_idx ON feature_sets (organization_id, created_at DESC, id DESC);

CREATE TABLE ml_models (
    organization_id        uuid        NOT NULL REFERENCES organizations (id),
    id                     uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                   text        NOT NULL CHECK (btrim(name) <> ''),
    version                text        NOT NULL CHECK (btrim(version) <> ''),
    feature_set_id         uuid        NOT NULL,
    algorithm              text        NOT NULL CHECK (btrim(algorithm) <> ''),
    metrics                jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metrics) = 'object'),
    artifact_attachment_id uuid,
    stage                  text        NOT NULL DEFAULT 'none'
                           CHECK (stage IN ('none', 'staging', 'production', 'archived')),
    created_by             uuid,
    extra_metadata         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    is_deleted             boolean     NOT NULL DEFAULT false,
    deleted_at             timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ml_models_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT ml_models_name_version_key UNIQUE (organization_id, name, version),
    FOREIGN KEY (organization_id, feature_set_id) REFERENCES feature_sets (organization_id, id),
    FOREIGN KEY (organization_id, artifact_attachment_id) REFERENCES attachments (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
-- One production version per model name: demote the current one before promoting another.
CREATE UNIQUE INDEX ml_models_production_key ON ml_models (organization_id, name)
    WHERE stage = 'production' AND NOT is_deleted;
CREATE INDEX ml_models_org_created_idx ON ml_models (organization_id, created_at DESC, id DESC);

-- ---------------------------------------------------------------------------------------------
-- updated_at triggers, row-level security and grants
-- ---------------------------------------------------------------------------------------------

-- organizations is keyed by id alone, so its policy differs from the tenant tables'.
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations TO spectra_app
    USING (id = app.current_org_id()) WITH CHECK (id = app.current_org_id());
GRANT SELECT, UPDATE ON organizations TO spectra_app;

DO $$
DECLARE
    -- spectra_app may SELECT, INSERT and UPDATE these; DELETE is granted on refresh_tokens only.
    writable    text[] := ARRAY[
        'users', 'api_keys', 'refresh_tokens',
        'instruments', 'calibrations', 'sops', 'sop_acknowledgements',
        'materials', 'samples', 'wafers', 'devices',
        'recipes', 'recipe_approvals', 'runs', 'results', 'attachments',
        'eln_entries',
        'spc_series', 'spc_datapoints', 'spc_alerts',
        'feature_sets', 'ml_models'];
    -- Append-only: SELECT and INSERT only.
    append_only text[] := ARRAY['audit_events', 'custody_events', 'signatures'];
    t text;
BEGIN
    FOREACH t IN ARRAY writable || append_only LOOP
        EXECUTE format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.%I '
                       'FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at()', t);
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON public.%I TO spectra_app '
                       'USING (organization_id = app.current_org_id()) '
                       'WITH CHECK (organization_id = app.current_org_id())', t);
    END LOOP;

    -- The migrating role owns the tables and the SECURITY DEFINER functions, which must see rows
    -- before a tenant is known (login by email, refresh token by hash, API key by prefix).
    FOREACH t IN ARRAY ARRAY['organizations'] || writable || append_only LOOP
        EXECUTE format('CREATE POLICY owner_access ON public.%I TO %I USING (true) WITH CHECK (true)',
                       t, current_user);
    END LOOP;

    FOREACH t IN ARRAY writable LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON public.%I TO spectra_app', t);
    END LOOP;
    FOREACH t IN ARRAY append_only LOOP
        EXECUTE format('GRANT SELECT, INSERT ON public.%I TO spectra_app', t);
    END LOOP;
END
$$;

GRANT DELETE ON refresh_tokens TO spectra_app;

GRANT USAGE ON SCHEMA public, app TO spectra_app;
GRANT EXECUTE ON FUNCTION app.current_org_id(), app.current_user_id(),
    app.audit_payload(public.audit_events) TO spectra_app;
