-- The audit trail without a chain lock: writers append events unlinked (seq, prev_hash and hash NULL)
-- in their own transaction; one sequencer links them in commit order with a keyed hash computed
-- outside the database (HMAC-SHA256 over a canonical, length-prefixed encoding of every field), as
-- Certificate Transparency logs separate queueing from sequencing. Nothing in the database computes
-- or vouches for a link any more: `spectra audit verify` recomputes every one in C++.

DROP TRIGGER audit_chain ON audit_events;
DROP FUNCTION app.audit_chain();
-- Events linked under the old unkeyed scheme are linked again by the sequencer, in their order. They
-- are checked first, against the old scheme: an upgrade must not launder a chain already broken.
DO $$
DECLARE
    e public.audit_events;
    org uuid := NULL;
    expected bigint := 0;
    prev bytea := NULL;
BEGIN
    FOR e IN SELECT * FROM audit_events ORDER BY organization_id, seq LOOP
        IF org IS DISTINCT FROM e.organization_id THEN
            org := e.organization_id;
            expected := 0;
            prev := NULL;
        END IF;
        expected := expected + 1;
        IF e.seq <> expected OR e.prev_hash IS DISTINCT FROM prev
           OR e.hash <> sha256(coalesce(prev, ''::bytea) || convert_to(app.audit_payload(e), 'UTF8')) THEN
            RAISE EXCEPTION 'the audit chain of organization % is broken at seq %: investigate (spectra audit verify at revision 2) before upgrading',
                org, expected;
        END IF;
        prev := e.hash;
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION app.audit_payload(public.audit_events) FROM spectra_app;
DROP FUNCTION app.audit_payload(public.audit_events);

ALTER TABLE audit_events ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_linked_check
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NOT NULL OR prev_hash IS NULL));
-- The sequencer's queue, in arrival order.
CREATE INDEX audit_events_queue_idx ON audit_events (organization_id, created_at, id) WHERE seq IS NULL;

-- Writers cannot pre-empt the sequencer: whatever an INSERT supplies, an event arrives unlinked.
CREATE FUNCTION app.audit_enqueue() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.seq        := NULL;
    NEW.prev_hash  := NULL;
    NEW.hash       := NULL;
    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_enqueue BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION app.audit_enqueue();

-- The organizations with unlinked events: how many, and since when.
CREATE FUNCTION app.audit_pending()
RETURNS TABLE (organization_id uuid, pending bigint, oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT a.organization_id, count(*), min(a.created_at)
      FROM audit_events a
     WHERE a.seq IS NULL
     GROUP BY a.organization_id
$$;

-- Each organization's chain head, for periodic checkpoints.
CREATE FUNCTION app.audit_heads()
RETURNS TABLE (organization_id uuid, seq bigint, hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT o.id, h.seq, h.hash
      FROM organizations o
      CROSS JOIN LATERAL (SELECT a.seq, a.hash FROM audit_events a
                           WHERE a.organization_id = o.id AND a.seq IS NOT NULL
                           ORDER BY a.seq DESC LIMIT 1) h
$$;

-- Links a batch of one organization's events after its current head. The sequencer computed the
-- hashes; this only refuses a batch that does not continue the head it was computed from (another
-- sequencer got there first), so the chain never has a gap or a duplicate.
CREATE FUNCTION app.audit_link(p_org uuid, p_ids uuid[], p_first_seq bigint, p_prev_hex text, p_hashes_hex text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
    p_prev    bytea := decode(p_prev_hex, 'hex');
    n         integer;
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_hashes_hex) THEN
        RAISE EXCEPTION 'audit_link: % ids but % hashes', cardinality(p_ids), cardinality(p_hashes_hex);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('audit-link:' || p_org::text, 0));
    SELECT a.seq, a.hash INTO head_seq, head_hash
      FROM audit_events a
     WHERE a.organization_id = p_org AND a.seq IS NOT NULL
     ORDER BY a.seq DESC
     LIMIT 1;
    IF coalesce(head_seq, 0) <> p_first_seq - 1 OR head_hash IS DISTINCT FROM p_prev THEN
        RAISE EXCEPTION 'audit_link: the chain head moved' USING ERRCODE = '40001';
    END IF;
    UPDATE audit_events a
       SET seq       = p_first_seq + u.ord - 1,
           prev_hash = CASE WHEN u.ord = 1 THEN p_prev ELSE decode(p_hashes_hex[u.ord - 1], 'hex') END,
           hash      = decode(p_hashes_hex[u.ord], 'hex')
      FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
     WHERE a.organization_id = p_org AND a.id = u.id AND a.seq IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> cardinality(p_ids) THEN
        RAISE EXCEPTION 'audit_link: an event was already linked or is missing' USING ERRCODE = '40001';
    END IF;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION app.audit_pending(), app.audit_heads(),
    app.audit_link(uuid, uuid[], bigint, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.audit_pending(), app.audit_heads(),
    app.audit_link(uuid, uuid[], bigint, text, text[]) TO spectra_app;
