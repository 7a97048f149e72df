-- Process documents and the notebook: a recipe lineage has at most one approved and one open (draft
-- or under review) version; an SOP code has at most one draft beside its effective version; a person
-- signs an entry once per meaning; and an entry's markdown has a size limit.

-- A recipe's versions share their lineage (the first version's id). Approving a version supersedes the
-- one approved before it, and a new version is opened only when none is open.
CREATE UNIQUE INDEX recipes_lineage_approved_key ON recipes (organization_id, (coalesce(root_recipe_id, id)))
    WHERE status = 'APPROVED' AND NOT is_deleted;
CREATE UNIQUE INDEX recipes_lineage_open_key ON recipes (organization_id, (coalesce(root_recipe_id, id)))
    WHERE status IN ('DRAFT', 'PENDING_APPROVAL') AND NOT is_deleted;
CREATE INDEX recipes_name_trgm_idx ON recipes USING gin (name gin_trgm_ops);
CREATE INDEX recipe_approvals_recipe_idx ON recipe_approvals (organization_id, recipe_id, decided_at);

-- One draft per SOP code at a time (beside the one effective version, sops_effective_code_key).
CREATE UNIQUE INDEX sops_draft_code_key ON sops (organization_id, code) WHERE status = 'DRAFT' AND NOT is_deleted;
CREATE INDEX sops_code_version_idx ON sops (organization_id, code, version);
CREATE INDEX sop_acknowledgements_sop_idx ON sop_acknowledgements (organization_id, sop_id, acknowledged_at);

-- A person signs an entry once with each meaning.
ALTER TABLE signatures ADD CONSTRAINT signatures_entry_signer_meaning_key UNIQUE (organization_id, entry_id, signer_id, meaning);

-- An entry's markdown is at most 1 MiB (the API refuses more first; NOT VALID keeps older rows readable).
ALTER TABLE eln_entries ADD CONSTRAINT eln_entries_body_size_check CHECK (octet_length(body_markdown) <= 1048576) NOT VALID;
CREATE INDEX eln_entries_title_trgm_idx ON eln_entries USING gin (title gin_trgm_ops);
CREATE INDEX eln_entries_tags_idx ON eln_entries USING gin (tags);
