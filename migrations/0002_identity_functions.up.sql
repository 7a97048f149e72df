-- Narrow SECURITY DEFINER functions for the lookups that happen before a tenant is known, and the
-- request prologue that sets the tenant context. Each returns exactly the row it needs; no policy is
-- weakened and the server never connects as the owner.

-- Sets the tenant context for the current transaction and refuses a user who was deactivated, deleted
-- from the organization, or whose role changed since the token was issued (SQLSTATE 28000 → 401).
CREATE FUNCTION app.begin_request(p_org uuid, p_user uuid, p_role text) RETURNS void
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

-- Login by email (emails are unique across the deployment).
CREATE FUNCTION app.find_login(p_email text)
RETURNS TABLE (organization_id uuid, id uuid, email text, full_name text, role text, password_hash text,
               is_active boolean, is_service_account boolean, organization_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT u.organization_id, u.id, u.email, u.full_name, u.role, u.password_hash, u.is_active,
           u.is_service_account, NOT o.is_deleted
    FROM users u JOIN organizations o ON o.id = u.organization_id
    WHERE lower(u.email) = lower(p_email)
$$;

-- A refresh token by the hash of its secret.
CREATE FUNCTION app.find_refresh_token(p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, family_id uuid, expired boolean, used boolean,
               revoked boolean, role text, email text, user_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at <= now(), t.used_at IS NOT NULL,
           t.revoked_at IS NOT NULL, u.role, u.email, u.is_active AND NOT o.is_deleted
    FROM refresh_tokens t
    JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
    JOIN organizations o ON o.id = t.organization_id
    WHERE t.token_hash = p_hash
$$;

-- An API key by its public prefix and the hash of its secret; records its use (at most once a minute,
-- so a busy key does not turn every request into a write).
CREATE FUNCTION app.use_api_key(p_prefix text, p_hash bytea)
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

REVOKE ALL ON FUNCTION app.begin_request(uuid, uuid, text), app.find_login(text), app.find_refresh_token(bytea),
    app.use_api_key(text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.begin_request(uuid, uuid, text), app.find_login(text), app.find_refresh_token(bytea),
    app.use_api_key(text, bytea) TO spectra_app;

-- The server checks at start-up that the schema is at the revision it was built for.
GRANT SELECT ON spectra_schema_migrations TO spectra_app;
