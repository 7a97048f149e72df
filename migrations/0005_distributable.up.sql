-- The schema becomes distributable by organization_id (Citus), without changing what it means on one
-- server:
--   * Lookups made before the tenant is known go through small global directory tables in the schema
--     `directory` (reference tables on Citus): login and OIDC by email, API key by prefix. A refresh
--     token carries its organization instead (see app.find_refresh_token(uuid, bytea) in 0006).
--   * No unique key on a tenant table leaves out organization_id; the global uniqueness of emails and
--     key prefixes lives in the directory, and each tenant row is tied to its directory entry by a
--     composite foreign key, so neither can exist without the other.
--   * No identity column on a tenant table: spc_datapoints.seq is assigned by its writer.
-- `spectra db distribute` (on a Citus coordinator) makes `organizations` and `directory.*` reference
-- tables and every table of `public` with an organization_id distributed by it, colocated.

CREATE SCHEMA directory;
GRANT USAGE ON SCHEMA directory TO spectra_app;

-- ---------------------------------------------------------------------------------------------
-- Emails: unique across the deployment, because login is by email alone.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE directory.user_emails (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    user_id         uuid        NOT NULL,
    email           text        NOT NULL CHECK (strpos(email, '@') > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_emails_pkey PRIMARY KEY (organization_id, user_id),
    -- The target of users' foreign key: a user's email is the one its directory entry holds.
    CONSTRAINT user_emails_entry_key UNIQUE (organization_id, user_id, email)
);
CREATE UNIQUE INDEX user_emails_email_key ON directory.user_emails (lower(email));

INSERT INTO directory.user_emails (organization_id, user_id, email, created_at)
SELECT organization_id, id, email, created_at FROM users;

ALTER TABLE users ADD CONSTRAINT users_email_directory_fkey
    FOREIGN KEY (organization_id, id, email) REFERENCES directory.user_emails (organization_id, user_id, email);
DROP INDEX users_email_key;
CREATE INDEX users_org_email_idx ON users (organization_id, lower(email));

-- ---------------------------------------------------------------------------------------------
-- API key prefixes: the public part of a key names it across the deployment.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE directory.api_key_prefixes (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    api_key_id      uuid        NOT NULL,
    prefix          text        NOT NULL CHECK (btrim(prefix) <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_key_prefixes_pkey PRIMARY KEY (organization_id, api_key_id),
    CONSTRAINT api_key_prefixes_prefix_key UNIQUE (prefix),
    CONSTRAINT api_key_prefixes_entry_key UNIQUE (organization_id, api_key_id, prefix)
);

INSERT INTO directory.api_key_prefixes (organization_id, api_key_id, prefix, created_at)
SELECT organization_id, id, prefix, created_at FROM api_keys;

ALTER TABLE api_keys ADD CONSTRAINT api_keys_prefix_directory_fkey
    FOREIGN KEY (organization_id, id, prefix) REFERENCES directory.api_key_prefixes (organization_id, api_key_id, prefix);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_prefix_key;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_org_prefix_key UNIQUE (organization_id, prefix);

-- The rules every table keyed by organization_id follows: updated_at kept by trigger, row-level
-- security forced (the application role sees its own organization; the migrating owner everything,
-- for the pre-tenant lookups), and the application role's privileges. A new table's migration calls
-- this once instead of repeating the statements.
CREATE FUNCTION app.apply_tenant_rules(p_table regclass, p_privileges text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at()', p_table);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s TO spectra_app '
                   'USING (organization_id = app.current_org_id()) '
                   'WITH CHECK (organization_id = app.current_org_id())', p_table);
    EXECUTE format('CREATE POLICY owner_access ON %s TO %I USING (true) WITH CHECK (true)', p_table, current_user);
    EXECUTE format('GRANT %s ON %s TO spectra_app', p_privileges, p_table);
END
$$;
REVOKE ALL ON FUNCTION app.apply_tenant_rules(regclass, text) FROM PUBLIC;

-- The directory follows the tenant rules: the application writes its own organization's entries
-- (in the same statement as the user or key); the pre-tenant lookups read it as the owner.
SELECT app.apply_tenant_rules('directory.user_emails', 'SELECT, INSERT');
SELECT app.apply_tenant_rules('directory.api_key_prefixes', 'SELECT, INSERT');

-- ---------------------------------------------------------------------------------------------
-- Refresh tokens: the token names its organization, so its hash is unique within it.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_token_hash_key;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_org_token_hash_key UNIQUE (organization_id, token_hash);

-- ---------------------------------------------------------------------------------------------
-- SPC points: seq is the insertion order within a series, assigned by the writer (which locks the
-- series row), not by a cluster-wide identity.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE spc_datapoints ALTER COLUMN seq DROP IDENTITY IF EXISTS;
