ALTER TABLE custody_events ADD CONSTRAINT custody_events_organization_id_fkey
    FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE results ADD CONSTRAINT results_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE spc_alert_points ADD CONSTRAINT spc_alert_points_organization_id_fkey
    FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE spc_datapoints ADD CONSTRAINT spc_datapoints_organization_id_fkey
    FOREIGN KEY (organization_id) REFERENCES organizations (id);

SET LOCAL citus.enable_ddl_propagation = off;
REVOKE INSERT (organization_id, id, actor_id, actor_type, action, entity_type, entity_id, before, after, request_id,
               client_addr, extra_metadata) ON audit_events FROM spectra_app;
GRANT INSERT ON audit_events TO spectra_app;
RESET citus.enable_ddl_propagation;
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
