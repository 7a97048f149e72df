-- Every statement on the request path names its organization as a parameter, so that on Citus it is
-- routed to one shard (a filter on app.current_org_id() is a function call the router cannot prune
-- by). The tenant context itself is set with SET LOCAL, which Citus forwards to the workers that
-- enforce row-level security on the shards (`citus.propagate_set_commands = 'local'`, set by
-- `spectra db distribute`); on one server it is the same as set_config(…, true).

-- It runs as the caller now (SECURITY INVOKER): once the context is set, row-level security lets the
-- caller read its own user and organization, and on Citus the check then shares the request's one
-- connection to the worker (a definer's rows would be read over a second connection, as another user).
CREATE OR REPLACE FUNCTION app.begin_request(p_org uuid, p_user uuid, p_role text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, app, pg_temp AS $$
DECLARE
    u record;
BEGIN
    EXECUTE format('SET LOCAL app.org_id = %L', p_org);
    EXECUTE format('SET LOCAL app.user_id = %L', coalesce(p_user::text, ''));
    EXECUTE format('SET LOCAL app.role = %L', coalesce(p_role, ''));
    IF p_user IS NULL THEN
        RETURN;
    END IF;
    SELECT u2.is_active AND NOT o.is_deleted AS is_active, u2.role INTO u
      FROM users u2 JOIN organizations o ON o.id = u2.organization_id
     WHERE u2.organization_id = p_org AND u2.id = p_user;
    IF NOT FOUND OR NOT u.is_active THEN
        RAISE EXCEPTION 'This account is not active' USING ERRCODE = '28000';
    END IF;
    IF u.role <> p_role THEN
        RAISE EXCEPTION 'Your role has changed; sign in again' USING ERRCODE = '28000';
    END IF;
END
$$;

-- Login (and OIDC) by email: the directory names the organization, then one shard answers.
CREATE OR REPLACE FUNCTION app.find_login(p_email text)
RETURNS TABLE (organization_id uuid, id uuid, email text, full_name text, role text, password_hash text,
               is_active boolean, is_service_account boolean, organization_active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    d record;
BEGIN
    SELECT e.organization_id, e.user_id INTO d FROM directory.user_emails e WHERE lower(e.email) = lower(p_email);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT u.organization_id, u.id, u.email, u.full_name, u.role, u.password_hash, u.is_active,
           u.is_service_account, NOT o.is_deleted
      FROM users u JOIN organizations o ON o.id = u.organization_id
     WHERE u.organization_id = d.organization_id AND u.id = d.user_id;
END
$$;

-- A refresh token by its organization (carried in the token) and the hash of the whole token.
-- (PL/pgSQL: Citus cannot plan a SQL-language function's statements that use its parameters.)
CREATE FUNCTION app.find_refresh_token(p_org uuid, p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, family_id uuid, expired boolean, used boolean,
               revoked boolean, role text, email text, user_active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at <= now(), t.used_at IS NOT NULL,
           t.revoked_at IS NOT NULL OR f.revoked_at IS NOT NULL, u.role, u.email, u.is_active AND NOT o.is_deleted
      FROM refresh_tokens t
      JOIN refresh_token_families f ON f.organization_id = t.organization_id AND f.id = t.family_id
      JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
      JOIN organizations o ON o.id = t.organization_id
     WHERE t.organization_id = p_org AND t.token_hash = p_hash;
END
$$;
-- Tokens issued before this revision do not name their organization: the hash finds it (on Citus by
-- asking every shard, for this one lookup), then the token is read as above. They expire within the
-- refresh token lifetime.
CREATE OR REPLACE FUNCTION app.find_refresh_token(p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, family_id uuid, expired boolean, used boolean,
               revoked boolean, role text, email text, user_active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    v_org uuid;
BEGIN
    SELECT t.organization_id INTO v_org FROM refresh_tokens t WHERE t.token_hash = p_hash LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM app.find_refresh_token(v_org, p_hash);
END
$$;

-- An API key: the directory names its organization, then one shard answers.
CREATE OR REPLACE FUNCTION app.use_api_key(p_prefix text, p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, scopes text[], role text, email text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    d record;
    k record;
BEGIN
    SELECT p.organization_id, p.api_key_id INTO d FROM directory.api_key_prefixes p WHERE p.prefix = p_prefix;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT a.organization_id, a.id, a.user_id, a.scopes, a.last_used_at, u.role, u.email
      INTO k
      FROM api_keys a
      JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id
      JOIN organizations o ON o.id = a.organization_id
     WHERE a.organization_id = d.organization_id AND a.id = d.api_key_id AND a.key_hash = p_hash
       AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > now()) AND u.is_active AND NOT o.is_deleted;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' THEN
        UPDATE api_keys SET last_used_at = now() WHERE api_keys.organization_id = k.organization_id AND api_keys.id = k.id;
    END IF;
    organization_id := k.organization_id; id := k.id; user_id := k.user_id; scopes := k.scopes;
    role := k.role; email := k.email;
    RETURN NEXT;
END
$$;

-- Ends sessions early (see 0004), now with the organization as a parameter, as two statements (Citus
-- cannot plan one modifying CTE that reads another).
DROP FUNCTION app.revoke_refresh_families(uuid, uuid, text);
CREATE FUNCTION app.revoke_refresh_families(p_org uuid, p_user uuid, p_family uuid, p_reason text) RETURNS integer
LANGUAGE plpgsql SET search_path = public, app, pg_temp AS $$
DECLARE
    v_families uuid[];
    v_now timestamptz := now();  -- a value: Citus refuses now() inside coalesce in an UPDATE
BEGIN
    IF p_family IS NULL AND p_user IS NULL THEN
        RETURN 0;
    END IF;
    WITH family AS (
        UPDATE refresh_token_families f
           SET revoked_at = coalesce(f.revoked_at, v_now), revoked_reason = coalesce(f.revoked_reason, p_reason)
         WHERE f.organization_id = p_org AND (p_family IS NULL OR f.id = p_family) AND (p_user IS NULL OR f.user_id = p_user)
        RETURNING f.id)
    SELECT coalesce(array_agg(id), '{}') INTO v_families FROM family;
    UPDATE refresh_tokens t SET revoked_at = v_now, revoked_reason = p_reason
     WHERE t.organization_id = p_org AND t.family_id = ANY (v_families) AND t.revoked_at IS NULL;
    RETURN cardinality(v_families);
END
$$;

-- Logout with a refresh token: that token's session, if the token is the caller's (none otherwise).
CREATE FUNCTION app.revoke_refresh_session(p_org uuid, p_user uuid, p_token_hash bytea, p_reason text) RETURNS integer
LANGUAGE plpgsql SET search_path = public, app, pg_temp AS $$
DECLARE
    v_family uuid;
BEGIN
    SELECT t.family_id INTO v_family FROM refresh_tokens t
     WHERE t.organization_id = p_org AND t.token_hash = p_token_hash AND t.user_id = p_user;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    RETURN app.revoke_refresh_families(p_org, p_user, v_family, p_reason);
END
$$;
REVOKE ALL ON FUNCTION app.find_refresh_token(uuid, bytea), app.revoke_refresh_families(uuid, uuid, uuid, text),
    app.revoke_refresh_session(uuid, uuid, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.find_refresh_token(uuid, bytea), app.revoke_refresh_families(uuid, uuid, uuid, text),
    app.revoke_refresh_session(uuid, uuid, bytea, text) TO spectra_app;

-- An API key that expires before it was made could never be used (checked for new keys; the server
-- checked it before, so existing keys are not re-validated). A revoked key is exempt, so that a key
-- someone expired by hand can still be revoked.
ALTER TABLE api_keys ADD CONSTRAINT api_keys_expires_after_created_check
    CHECK (expires_at IS NULL OR expires_at > created_at OR revoked_at IS NOT NULL) NOT VALID;

-- A migration that creates a tenant table with foreign keys to other tenant tables calls this between
-- CREATE TABLE (without those keys) and ALTER TABLE … ADD FOREIGN KEY: on a distributed database (Citus)
-- it distributes the new table like the others, since Citus refuses a foreign key from a local table to
-- a distributed one; on one server it does nothing. `spectra db upgrade` places any other new table.
CREATE FUNCTION app.distribute_tenant_table(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'public.organizations'::regclass)
           AND NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = p_table) THEN
            PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
            PERFORM create_distributed_table(p_table, 'organization_id', colocate_with => 'users');
        END IF;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION app.distribute_tenant_table(regclass) FROM PUBLIC;

-- Each organization's chain head: one index lookup per organization (a single DISTINCT ON would read
-- every linked event), each statement naming its organization (Citus routes it to one shard).
CREATE OR REPLACE FUNCTION app.audit_heads()
RETURNS TABLE (organization_id uuid, seq bigint, hash bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    v_org uuid;
BEGIN
    FOR v_org IN SELECT o.id FROM organizations o LOOP
        RETURN QUERY
        SELECT a.organization_id, a.seq, a.hash
          FROM audit_events a
         WHERE a.organization_id = v_org AND a.seq IS NOT NULL
         ORDER BY a.seq DESC
         LIMIT 1;
    END LOOP;
END
$$;

-- SPC points are ordered by seq within their series; the writer assigns it.
DROP INDEX spc_datapoints_series_seq_idx;
ALTER TABLE spc_datapoints ADD CONSTRAINT spc_datapoints_series_seq_key UNIQUE (organization_id, series_id, seq);
