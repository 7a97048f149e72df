-- The login throttle's two functions take an attempt's rows in one order (account, then client).
-- password_attempt_end updated both rows in whatever order the scan found them, so a concurrent begin
-- (account, then client) and end (client, then account) deadlocked, and one login answered 409. The
-- sweep of stale rows in begin leaves the attempt's own rows alone, for the same reason.
CREATE OR REPLACE FUNCTION app.password_attempt_begin(p_account text, p_client text, p_max_account integer,
                                           p_max_client integer, p_window_seconds integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    keys  text[] := ARRAY['account:' || lower(p_account), 'client:' || p_client];
    maxes integer[] := ARRAY[p_max_account, p_max_client];
    r     app.password_failures;
    wait  integer := 0;
    i     integer;
BEGIN
    -- A few stale rows go with each attempt: the table stays small however many clients there were.
    DELETE FROM app.password_failures f
     WHERE f.key IN (SELECT s.key FROM app.password_failures s
                      WHERE s.window_start < now() - make_interval(secs => p_window_seconds)
                        AND (s.locked_until IS NULL OR s.locked_until < now())
                        AND s.key <> ALL (keys)
                      LIMIT 8 FOR UPDATE SKIP LOCKED);
    INSERT INTO app.password_failures (key) VALUES (keys[1]), (keys[2]) ON CONFLICT (key) DO NOTHING;
    FOR i IN 1..2 LOOP  -- 'account:' sorts before 'client:': the order every function locks them in
        SELECT * INTO r FROM app.password_failures f WHERE f.key = keys[i] FOR UPDATE;
        IF r.locked_until > now() THEN
            wait := greatest(wait, ceil(extract(epoch FROM r.locked_until - now()))::integer);
        ELSIF r.window_start >= now() - make_interval(secs => p_window_seconds) AND r.failures >= maxes[i] THEN
            wait := greatest(wait, 1);
        END IF;
    END LOOP;
    IF wait > 0 THEN
        RETURN wait;
    END IF;
    UPDATE app.password_failures f
       SET failures = CASE WHEN f.window_start < now() - make_interval(secs => p_window_seconds) THEN 1
                           ELSE f.failures + 1 END,
           window_start = CASE WHEN f.window_start < now() - make_interval(secs => p_window_seconds) THEN now()
                               ELSE f.window_start END,
           locked_until = NULL
     WHERE f.key = ANY (keys);
    RETURN NULL;
END
$$;

-- Ends a reserved attempt: a success forgives it (and the account's earlier failures); a failure keeps
-- it and locks the key out once it reaches its limit; an abandoned attempt (the server could not check
-- the password) is forgiven without clearing anything.
CREATE OR REPLACE FUNCTION app.password_attempt_end(p_account text, p_client text, p_outcome text, p_max_account integer,
                                         p_max_client integer, p_lockout_seconds integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    account_key text := 'account:' || lower(p_account);
    client_key  text := 'client:' || p_client;
BEGIN
    IF p_outcome NOT IN ('success', 'failure', 'abandoned') THEN
        RAISE EXCEPTION 'password_attempt_end: unknown outcome %', p_outcome USING ERRCODE = '22023';
    END IF;
    -- Both rows locked in key order, the order password_attempt_begin takes them in: an UPDATE of both
    -- locks them in the order it finds them, which deadlocked against a concurrent begin.
    PERFORM 1 FROM app.password_failures f WHERE f.key IN (account_key, client_key) ORDER BY f.key FOR UPDATE;
    IF p_outcome = 'failure' THEN
        UPDATE app.password_failures f
           SET locked_until = now() + make_interval(secs => p_lockout_seconds), failures = 0, window_start = now()
         WHERE (f.key = account_key AND f.failures >= p_max_account)
            OR (f.key = client_key AND f.failures >= p_max_client);
        RETURN;
    END IF;
    UPDATE app.password_failures f
       SET failures = CASE WHEN p_outcome = 'success' AND f.key = account_key THEN 0
                           ELSE greatest(f.failures - 1, 0) END
     WHERE f.key IN (account_key, client_key);
END
$$;
