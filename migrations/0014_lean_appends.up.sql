-- The hot append-only tables do only what protects them.
--
-- An audit event arrived unlinked because a plpgsql trigger overwrote whatever the INSERT supplied:
-- a function call per event on every audited write. The application role now may insert only the
-- columns a writer names (column privileges), and the others take their defaults: seq, prev_hash
-- and hash NULL (unlinked: the sequencer links it), created_at and updated_at now(). A writer still
-- cannot pre-empt the sequencer or backdate an event; it is refused (42501) instead of overwritten.
--
-- On Citus the privileges are checked on the coordinator, where the application connects; the shards
-- keep the table privilege (Citus would propagate the REVOKE to them but not the column GRANT).
DROP TRIGGER audit_enqueue ON audit_events;
DROP FUNCTION app.audit_enqueue();
SET LOCAL citus.enable_ddl_propagation = off;
REVOKE INSERT ON audit_events FROM spectra_app;
GRANT INSERT (organization_id, id, actor_id, actor_type, action, entity_type, entity_id, before, after, request_id,
              client_addr, extra_metadata) ON audit_events TO spectra_app;
RESET citus.enable_ddl_propagation;

-- Points, results, custody events and alert points name their organization through a composite
-- foreign key to their parent (a series, a run, a sample, an alert), which pins it already: the key
-- to organizations took a share lock on the organization's one row at every insert, for nothing.
ALTER TABLE spc_datapoints DROP CONSTRAINT spc_datapoints_organization_id_fkey;
ALTER TABLE spc_alert_points DROP CONSTRAINT spc_alert_points_organization_id_fkey;
ALTER TABLE results DROP CONSTRAINT results_organization_id_fkey;
ALTER TABLE custody_events DROP CONSTRAINT custody_events_organization_id_fkey;
