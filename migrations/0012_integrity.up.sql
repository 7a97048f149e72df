-- Integrity: separation of duties on SOPs (a REJECTED state and the decision's comment), markdown
-- rendered once at write time (stored with the renderer's version), files of a signed entry locked
-- like its text, the failed-login throttle shared by every server (in the database), and the audit
-- sequencer as a role of its own: the application role no longer reaches across organizations.

-- SOPs: a version under review is approved (EFFECTIVE) or rejected (REJECTED), with a comment.
ALTER TABLE sops DROP CONSTRAINT sops_status_check;
ALTER TABLE sops ADD CONSTRAINT sops_status_check CHECK (status IN ('DRAFT', 'EFFECTIVE', 'OBSOLETE', 'REJECTED'));
ALTER TABLE sops ADD COLUMN rejected_by uuid, ADD COLUMN rejected_at timestamptz, ADD COLUMN decision_comment text;
ALTER TABLE sops ADD FOREIGN KEY (organization_id, rejected_by) REFERENCES users (organization_id, id);

-- The sanitized HTML of the markdown, rendered when it is written; render_version names the renderer
-- that made it (0: not rendered yet), so that a new renderer re-renders what an older one made.
ALTER TABLE eln_entries ADD COLUMN body_html text, ADD COLUMN render_version integer NOT NULL DEFAULT 0;
ALTER TABLE sops ADD COLUMN body_html text, ADD COLUMN render_version integer NOT NULL DEFAULT 0;

-- Rendering again is not a change of the record: updated_at moves only when something else does.
CREATE FUNCTION app.touch_updated_at_unless_rendering() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.render_version IS DISTINCT FROM OLD.render_version AND NEW.body_markdown = OLD.body_markdown THEN
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER touch_updated_at ON eln_entries;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON eln_entries
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at_unless_rendering();
DROP TRIGGER touch_updated_at ON sops;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON sops
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at_unless_rendering();

-- A signed entry's files are as fixed as its text: no file is linked to it or unlinked from it.
CREATE FUNCTION app.attachment_links_lock_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    entry_org uuid := coalesce(NEW.organization_id, OLD.organization_id);
    entries   uuid[] := array_remove(ARRAY[NEW.eln_entry_id, OLD.eln_entry_id], NULL);
    locked    uuid;
BEGIN
    IF cardinality(entries) = 0 THEN
        RETURN coalesce(NEW, OLD);
    END IF;
    -- FOR SHARE: a signature being written waits for this link to commit, or this link for it.
    SELECT e.id INTO locked FROM eln_entries e
     WHERE e.organization_id = entry_org AND e.id = ANY (entries) AND e.locked_at IS NOT NULL
     LIMIT 1 FOR SHARE;
    IF locked IS NOT NULL THEN
        RAISE EXCEPTION 'eln entry % is signed and locked', locked USING ERRCODE = '55000';
    END IF;
    RETURN coalesce(NEW, OLD);
END
$$;
CREATE TRIGGER attachment_links_lock_guard BEFORE INSERT OR UPDATE OR DELETE ON attachment_links
    FOR EACH ROW EXECUTE FUNCTION app.attachment_links_lock_guard();

-- Failed passwords (logins and signatures), counted per account (the e-mail folded by lower()) and per
-- client, shared by every server. UNLOGGED: a crash forgets the counts, which only ends lockouts early.
-- An attempt is counted when it begins and forgiven when it succeeds, so parallel guesses cannot slip
-- past the limit while their hashes are computed, and an attempt whose server died still counts.
CREATE UNLOGGED TABLE app.password_failures (
    key          text        PRIMARY KEY,   -- 'account:' || lower(email), or 'client:' || address
    failures     integer     NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz
);
CREATE INDEX password_failures_window_idx ON app.password_failures (window_start);
REVOKE ALL ON app.password_failures FROM PUBLIC;

-- Reserves an attempt for the account and the client: NULL when it may go ahead, else the seconds to
-- wait (nothing is reserved then). Keys are locked in one order, so two attempts never deadlock.
CREATE FUNCTION app.password_attempt_begin(p_account text, p_client text, p_max_account integer,
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
                      LIMIT 8 FOR UPDATE SKIP LOCKED);
    INSERT INTO app.password_failures (key) VALUES (keys[1]), (keys[2]) ON CONFLICT (key) DO NOTHING;
    FOR i IN 1..2 LOOP
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
CREATE FUNCTION app.password_attempt_end(p_account text, p_client text, p_outcome text, p_max_account integer,
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
REVOKE ALL ON FUNCTION app.password_attempt_begin(text, text, integer, integer, integer),
    app.password_attempt_end(text, text, text, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.password_attempt_begin(text, text, integer, integer, integer),
    app.password_attempt_end(text, text, text, integer, integer, integer) TO spectra_app;

-- The audit sequencer links every organization's events: it alone may call the functions that reach
-- across organizations. It is a member of spectra_app for the tenant policies of the rows it reads.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spectra_sequencer') THEN
        CREATE ROLE spectra_sequencer LOGIN;
    END IF;
END
$$;
GRANT spectra_app TO spectra_sequencer;
REVOKE EXECUTE ON FUNCTION app.audit_pending(), app.audit_heads(),
    app.audit_link(uuid, uuid[], bigint, text, text[]) FROM spectra_app;
GRANT EXECUTE ON FUNCTION app.audit_pending(), app.audit_heads(),
    app.audit_link(uuid, uuid[], bigint, text, text[]) TO spectra_sequencer;
GRANT USAGE ON SCHEMA app TO spectra_sequencer;
