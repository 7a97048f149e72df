DROP FUNCTION app.distribute_tenant_table(regclass);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_expires_after_created_check;
DROP FUNCTION app.revoke_refresh_session(uuid, uuid, bytea, text);
CREATE OR REPLACE FUNCTION app.find_refresh_token(p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, family_id uuid, expired boolean, used boolean,
               revoked boolean, role text, email text, user_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at <= now(), t.used_at IS NOT NULL,
           t.revoked_at IS NOT NULL OR f.revoked_at IS NOT NULL, u.role, u.email, u.is_active AND NOT o.is_deleted
    FROM refresh_tokens t
    JOIN refresh_token_families f ON f.organization_id = t.organization_id AND f.id = t.family_id
    JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
    JOIN organizations o ON o.id = t.organization_id
    WHERE t.token_hash = p_hash
$$;
ALTER TABLE spc_datapoints DROP CONSTRAINT spc_datapoints_series_seq_key;
CREATE INDEX spc_datapoints_series_seq_idx ON spc_datapoints (organization_id, series_id, seq);

CREATE OR REPLACE FUNCTION app.audit_heads()
RETURNS TABLE (organization_id uuid, seq bigint, hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT o.id, h.seq, h.hash
      FROM organizations o
      CROSS JOIN LATERAL (SELECT a.seq, a.hash FROM audit_events a
                           WHERE a.organization_id = o.id AND a.seq IS NOT NULL
                           ORDER BY a.seq DESC LIMIT 1) h
$$;

DROP FUNCTION app.revoke_refresh_families(uuid, uuid, uuid, text);
CREATE FUNCTION app.revoke_refresh_families(p_user uuid, p_family uuid, p_reason text) RETURNS integer
LANGUAGE sql SET search_path = public, app, pg_temp AS $$
    WITH family AS (
        UPDATE refresh_token_families f
           SET revoked_at = coalesce(f.revoked_at, now()), revoked_reason = coalesce(f.revoked_reason, p_reason)
         WHERE f.organization_id = app.current_org_id() AND (p_family IS NOT NULL OR p_user IS NOT NULL)
           AND (p_family IS NULL OR f.id = p_family) AND (p_user IS NULL OR f.user_id = p_user)
        RETURNING f.id),
    tokens AS (
        UPDATE refresh_tokens t SET revoked_at = now(), revoked_reason = p_reason
         WHERE t.organization_id = app.current_org_id() AND t.family_id IN (SELECT id FROM family)
           AND t.revoked_at IS NULL
        RETURNING 1)
    SELECT count(*)::integer FROM family
$$;
REVOKE ALL ON FUNCTION app.revoke_refresh_families(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.revoke_refresh_families(uuid, uuid, text) TO spectra_app;

DROP FUNCTION app.find_refresh_token(uuid, bytea);

CREATE OR REPLACE FUNCTION app.use_api_key(p_prefix text, p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, scopes text[], role text, email text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    k record;
BEGIN
    SELECT a.organization_id, a.id, a.user_id, a.scopes, a.last_used_at, u.role, u.email
      INTO k
      FROM api_keys a
      JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id
      JOIN organizations o ON o.id = a.organization_id
     WHERE a.prefix = p_prefix AND a.key_hash = p_hash AND a.revoked_at IS NULL
       AND (a.expires_at IS NULL OR a.expires_at > now()) AND u.is_active AND NOT o.is_deleted;
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

CREATE OR REPLACE FUNCTION app.find_login(p_email text)
RETURNS TABLE (organization_id uuid, id uuid, email text, full_name text, role text, password_hash text,
               is_active boolean, is_service_account boolean, organization_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT u.organization_id, u.id, u.email, u.full_name, u.role, u.password_hash, u.is_active,
           u.is_service_account, NOT o.is_deleted
    FROM users u JOIN organizations o ON o.id = u.organization_id
    WHERE lower(u.email) = lower(p_email)
$$;

CREATE OR REPLACE FUNCTION app.begin_request(p_org uuid, p_user uuid, p_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    u record;
BEGIN
    PERFORM set_config('app.org_id', p_org::text, true);
    PERFORM set_config('app.user_id', coalesce(p_user::text, ''), true);
    PERFORM set_config('app.role', coalesce(p_role, ''), true);
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
