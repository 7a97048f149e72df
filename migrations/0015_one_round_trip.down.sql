ALTER TABLE audit_events ADD CONSTRAINT audit_events_seq_key UNIQUE (organization_id, seq);
DROP INDEX audit_events_seq_linked_key;
DROP FUNCTION app.require_live(regclass, uuid, uuid, text);
