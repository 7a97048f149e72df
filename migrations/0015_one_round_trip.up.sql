-- A write in one round trip, and an audit event with one index fewer.
--
-- A reference to a soft-deleted row is refused like one to an absent row (SQLSTATE 23503, naming a
-- constraint the API maps to the field), by the database, so that a write need not read the
-- reference's state first and decide before it sends the rest: the check, the INSERT, its audit
-- event and COMMIT go out together, and a refused check aborts them all. The row is locked FOR SHARE:
-- a delete of it waits until the writer ends, and then sees the new row that uses it.
-- SECURITY INVOKER: the caller's row-level security decides what it may see.
CREATE FUNCTION app.require_live(p_table regclass, p_org uuid, p_id uuid, p_constraint text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    deleted boolean;
BEGIN
    IF p_id IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT is_deleted FROM %s WHERE organization_id = $1 AND id = $2 FOR SHARE', p_table)
        INTO deleted USING p_org, p_id;
    IF deleted THEN
        RAISE EXCEPTION 'insert or update on % violates foreign key constraint "%"', p_table, p_constraint
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = p_constraint,
                  DETAIL = format('Key (id)=(%s) is deleted.', p_id);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION app.require_live(regclass, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.require_live(regclass, uuid, uuid, text) TO spectra_app;

-- An event arrives unlinked (seq NULL) and the writer's INSERT still added it to the unique index of
-- (organization_id, seq). Only linked events need the index: it becomes partial, and a writer's
-- insert touches six indexes instead of seven. The sequencer's head lookup (ORDER BY seq DESC) and
-- the uniqueness of a sequence number are unchanged.
CREATE UNIQUE INDEX audit_events_seq_linked_key ON audit_events (organization_id, seq) WHERE seq IS NOT NULL;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_seq_key;
