-- Attachments: their bytes live in the content-addressed store under DATA_DIR (named by their
-- SHA-256), not in the table; a run is linked through attachment_links like a sample or an entry.
ALTER TABLE attachments ALTER COLUMN content DROP NOT NULL;
ALTER TABLE attachments DROP CONSTRAINT attachments_size_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_size_check CHECK (content IS NULL OR size_bytes = octet_length(content));
ALTER TABLE attachment_links ADD COLUMN run_id uuid;
ALTER TABLE attachment_links DROP CONSTRAINT attachment_links_one_target_check;
ALTER TABLE attachment_links ADD CONSTRAINT attachment_links_one_target_check CHECK (num_nonnulls(sample_id, eln_entry_id,
    instrument_id, calibration_id, recipe_id, sop_id, ml_model_id, run_id) = 1);
ALTER TABLE attachment_links ADD FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id);
CREATE INDEX attachment_links_run_idx ON attachment_links (organization_id, run_id);
CREATE INDEX attachment_links_sample_idx ON attachment_links (organization_id, sample_id);
CREATE INDEX attachment_links_eln_entry_idx ON attachment_links (organization_id, eln_entry_id);
