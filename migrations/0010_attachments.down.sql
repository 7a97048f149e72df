DROP INDEX attachment_links_eln_entry_idx;
DROP INDEX attachment_links_sample_idx;
DROP INDEX attachment_links_run_idx;
ALTER TABLE attachment_links DROP CONSTRAINT attachment_links_organization_id_run_id_fkey;
ALTER TABLE attachment_links DROP CONSTRAINT attachment_links_one_target_check;
DELETE FROM attachment_links WHERE run_id IS NOT NULL;
ALTER TABLE attachment_links ADD CONSTRAINT attachment_links_one_target_check CHECK (num_nonnulls(sample_id, eln_entry_id,
    instrument_id, calibration_id, recipe_id, sop_id, ml_model_id) = 1);
ALTER TABLE attachment_links DROP COLUMN run_id;
ALTER TABLE attachments DROP CONSTRAINT attachments_size_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_size_check CHECK (size_bytes = octet_length(content));
ALTER TABLE attachments ALTER COLUMN content SET NOT NULL;
