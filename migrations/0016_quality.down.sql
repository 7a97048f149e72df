DROP INDEX spc_series_source_idx;
ALTER TABLE spc_series DROP COLUMN source_recipe_id, DROP COLUMN source_instrument_id, DROP COLUMN source_metric;
DELETE FROM custody_events WHERE event_type IN ('quarantine', 'release');
ALTER TABLE custody_events DROP CONSTRAINT custody_events_event_type_check;
ALTER TABLE custody_events ADD CONSTRAINT custody_events_event_type_check
    CHECK (event_type IN ('create', 'transfer', 'check_out', 'return', 'consume', 'dispose'));
DROP FUNCTION app.certificate_organization(uuid);
DROP TABLE certificates;
DROP TABLE directory.certificate_ids;
DROP TABLE nonconformances;
ALTER TABLE results DROP COLUMN evaluation;
ALTER TABLE runs DROP COLUMN specification_version_id;
DROP FUNCTION app.applicable_specification(uuid, uuid, uuid);
DROP TABLE specifications;
DROP FUNCTION app.specification_content_guard();
DROP FUNCTION app.reference_table(regclass);
