-- Back to the chain kept by a trigger under a per-organization lock (unkeyed SHA-256).
DROP FUNCTION app.audit_link(uuid, uuid[], bigint, text, text[]);
DROP FUNCTION app.audit_heads();
DROP FUNCTION app.audit_pending();
DROP TRIGGER audit_enqueue ON audit_events;
DROP FUNCTION app.audit_enqueue();
DROP INDEX audit_events_queue_idx;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_linked_check;

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

-- Every event is chained again in its order, under the old scheme.
DO $$
DECLARE
    e public.audit_events;
    org uuid := NULL;
    n bigint := 0;
    prev bytea := NULL;
BEGIN
    UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL;
    FOR e IN SELECT * FROM audit_events ORDER BY organization_id, created_at, id LOOP
        IF org IS DISTINCT FROM e.organization_id THEN
            org := e.organization_id;
            n := 0;
            prev := NULL;
        END IF;
        n := n + 1;
        e.seq := n;
        e.prev_hash := prev;
        e.hash := sha256(coalesce(prev, ''::bytea) || convert_to(app.audit_payload(e), 'UTF8'));
        UPDATE audit_events SET seq = e.seq, prev_hash = e.prev_hash, hash = e.hash
         WHERE organization_id = e.organization_id AND id = e.id;
        prev := e.hash;
    END LOOP;
END
$$;
ALTER TABLE audit_events ALTER COLUMN seq SET NOT NULL, ALTER COLUMN hash SET NOT NULL;

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
GRANT EXECUTE ON FUNCTION app.audit_payload(public.audit_events) TO spectra_app;
