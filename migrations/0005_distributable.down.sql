-- Back to deployment-wide unique keys on the tenant tables and an identity for SPC points (one server
-- only: Citus refuses both).
DO $$
DECLARE
    next bigint;
BEGIN
    SELECT coalesce(max(seq), 0) + 1 INTO next FROM spc_datapoints;
    EXECUTE format('ALTER TABLE spc_datapoints ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (START WITH %s)', next);
END
$$;

ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_org_token_hash_key;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE api_keys DROP CONSTRAINT api_keys_org_prefix_key;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_prefix_key UNIQUE (prefix);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_prefix_directory_fkey;

DROP INDEX users_org_email_idx;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
ALTER TABLE users DROP CONSTRAINT users_email_directory_fkey;

DROP FUNCTION app.apply_tenant_rules(regclass, text);
DROP TABLE directory.api_key_prefixes;
DROP TABLE directory.user_emails;
REVOKE USAGE ON SCHEMA directory FROM spectra_app;
DROP SCHEMA directory;
