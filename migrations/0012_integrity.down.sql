REVOKE EXECUTE ON FUNCTION app.audit_pending(), app.audit_heads(),
    app.audit_link(uuid, uuid[], bigint, text, text[]) FROM spectra_sequencer;
GRANT EXECUTE ON FUNCTION app.audit_pending(), app.audit_heads(),
    app.audit_link(uuid, uuid[], bigint, text, text[]) TO spectra_app;
REVOKE USAGE ON SCHEMA app FROM spectra_sequencer;
REVOKE spectra_app FROM spectra_sequencer;
DROP FUNCTION app.password_attempt_end(text, text, text, integer, integer, integer);
DROP FUNCTION app.password_attempt_begin(text, text, integer, integer, integer);
DROP TABLE app.password_failures;
DROP TRIGGER attachment_links_lock_guard ON attachment_links;
DROP FUNCTION app.attachment_links_lock_guard();
DROP TRIGGER touch_updated_at ON sops;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON sops FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
DROP TRIGGER touch_updated_at ON eln_entries;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON eln_entries FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
DROP FUNCTION app.touch_updated_at_unless_rendering();
ALTER TABLE sops DROP COLUMN render_version, DROP COLUMN body_html;
ALTER TABLE eln_entries DROP COLUMN render_version, DROP COLUMN body_html;
ALTER TABLE sops DROP COLUMN decision_comment, DROP COLUMN rejected_at, DROP COLUMN rejected_by;
UPDATE sops SET status = 'OBSOLETE' WHERE status = 'REJECTED';
ALTER TABLE sops DROP CONSTRAINT sops_status_check;
ALTER TABLE sops ADD CONSTRAINT sops_status_check CHECK (status IN ('DRAFT', 'EFFECTIVE', 'OBSOLETE'));
