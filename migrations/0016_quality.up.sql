-- Quality: specifications (versioned limits per metric, approved like SOPs), the version a run binds,
-- results judged as they are recorded, nonconformances with their signed disposition, certificates of
-- analysis (the issued PDF and its SHA-256), custody events of quarantine and release, and SPC series
-- fed by results.

-- A new table is created without foreign keys and placed before they are added: on a distributed
-- database (Citus), a table with a foreign key to `organizations` (a reference table) would become a
-- Citus-local table, which app.distribute_tenant_table leaves alone. A new directory table is a
-- reference table there, like the others (app.reference_table); on one server both do nothing.
CREATE FUNCTION app.reference_table(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'public.organizations'::regclass)
           AND NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = p_table) THEN
            PERFORM create_reference_table(p_table);
        END IF;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION app.reference_table(regclass) FROM PUBLIC;

-- A specification version. A lineage is the versions of one specification (lineage_id: its first
-- version's id); one version of a lineage is EFFECTIVE at most, one is a DRAFT at most. Limits are a
-- list of {metric, unit?, lsl?, usl?, target?, warn_low?, warn_high?, lod?}, validated by the server.
CREATE TABLE specifications (
    organization_id     uuid        NOT NULL,
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    lineage_id          uuid        NOT NULL,
    version             integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    name                text        NOT NULL CHECK (btrim(name) <> ''),
    description         text,
    material_id         uuid,
    recipe_id           uuid,
    sample_type         text        CHECK (sample_type IN ('wafer', 'die', 'powder', 'film', 'bulk', 'solution', 'other')),
    limits              jsonb       NOT NULL CHECK (jsonb_typeof(limits) = 'array' AND jsonb_array_length(limits) >= 1),
    status              text        NOT NULL DEFAULT 'DRAFT'
                        CHECK (status IN ('DRAFT', 'EFFECTIVE', 'OBSOLETE', 'REJECTED')),
    previous_version_id uuid        CHECK (previous_version_id <> id),
    author_id           uuid,
    approved_by         uuid,
    approved_at         timestamptz,
    rejected_by         uuid,
    rejected_at         timestamptz,
    decision_comment    text,
    extra_metadata      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT specifications_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT specifications_lineage_version_key UNIQUE (organization_id, lineage_id, version),
    CONSTRAINT specifications_applies_to_check CHECK (num_nonnulls(material_id, recipe_id, sample_type) >= 1),
    CONSTRAINT specifications_effective_check CHECK (status <> 'EFFECTIVE' OR approved_at IS NOT NULL)
);
CREATE UNIQUE INDEX specifications_effective_key ON specifications (organization_id, lineage_id) WHERE status = 'EFFECTIVE';
CREATE UNIQUE INDEX specifications_draft_key ON specifications (organization_id, lineage_id) WHERE status = 'DRAFT';
CREATE INDEX specifications_org_created_idx ON specifications (organization_id, created_at DESC, id DESC);
CREATE INDEX specifications_recipe_idx ON specifications (organization_id, recipe_id) WHERE status = 'EFFECTIVE';
CREATE INDEX specifications_material_idx ON specifications (organization_id, material_id) WHERE status = 'EFFECTIVE';
SELECT app.distribute_tenant_table('specifications');
ALTER TABLE specifications ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE specifications ADD FOREIGN KEY (organization_id, material_id) REFERENCES materials (organization_id, id);
ALTER TABLE specifications ADD FOREIGN KEY (organization_id, recipe_id) REFERENCES recipes (organization_id, id);
ALTER TABLE specifications ADD FOREIGN KEY (organization_id, previous_version_id) REFERENCES specifications (organization_id, id);
ALTER TABLE specifications ADD FOREIGN KEY (organization_id, author_id) REFERENCES users (organization_id, id);
ALTER TABLE specifications ADD FOREIGN KEY (organization_id, approved_by) REFERENCES users (organization_id, id);
ALTER TABLE specifications ADD FOREIGN KEY (organization_id, rejected_by) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('specifications', 'SELECT, INSERT, UPDATE');

-- What a run was judged against never changes: only a DRAFT's content changes (a decision changes
-- its status, an approval later makes it OBSOLETE).
CREATE FUNCTION app.specification_content_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.status <> 'DRAFT' AND (NEW.name, NEW.description, NEW.material_id, NEW.recipe_id, NEW.sample_type,
                                  NEW.limits, NEW.version, NEW.lineage_id, NEW.author_id)
                                 IS DISTINCT FROM
                                 (OLD.name, OLD.description, OLD.material_id, OLD.recipe_id, OLD.sample_type,
                                  OLD.limits, OLD.version, OLD.lineage_id, OLD.author_id) THEN
        RAISE EXCEPTION 'specification % is %: only a DRAFT changes', OLD.id, OLD.status USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER specification_content_guard BEFORE UPDATE ON specifications
    FOR EACH ROW EXECUTE FUNCTION app.specification_content_guard();

-- The EFFECTIVE specification version that applies to a run of sample p_sample following recipe p_recipe:
-- every criterion it names matches (the recipe's lineage, the sample's material, its type), the most
-- specific first (a recipe's, then a material's, then a sample type's; among equals the latest
-- approved); NULL when none. A function, so that its statements keep their plans in the session (as a
-- subquery of the run's reads it was planned again on every request). SECURITY INVOKER: the caller's
-- row-level security applies.
CREATE FUNCTION app.applicable_specification(p_org uuid, p_sample uuid, p_recipe uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_material uuid;
    v_type     text;
    v_lineage  uuid;
    v_id       uuid;
BEGIN
    SELECT s.material_id, s.sample_type INTO v_material, v_type
      FROM samples s WHERE s.organization_id = p_org AND s.id = p_sample;
    IF p_recipe IS NOT NULL THEN
        SELECT coalesce(r.root_recipe_id, r.id) INTO v_lineage
          FROM recipes r WHERE r.organization_id = p_org AND r.id = p_recipe;
    END IF;
    SELECT sp.id INTO v_id
      FROM specifications sp
     WHERE sp.organization_id = p_org AND sp.status = 'EFFECTIVE'
       AND (sp.recipe_id IS NULL
            OR sp.recipe_id IN (SELECT v.id FROM recipes v
                                 WHERE v.organization_id = p_org AND coalesce(v.root_recipe_id, v.id) = v_lineage))
       AND (sp.material_id IS NULL OR sp.material_id = v_material)
       AND (sp.sample_type IS NULL OR sp.sample_type = v_type)
     ORDER BY (sp.recipe_id IS NOT NULL) DESC, (sp.material_id IS NOT NULL) DESC, (sp.sample_type IS NOT NULL) DESC,
              sp.approved_at DESC, sp.id
     LIMIT 1;
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION app.applicable_specification(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.applicable_specification(uuid, uuid, uuid) TO spectra_app;

-- The run binds the EFFECTIVE version that applied when it was created; each result carries its judgement.
ALTER TABLE runs ADD COLUMN specification_version_id uuid;
ALTER TABLE runs ADD FOREIGN KEY (organization_id, specification_version_id) REFERENCES specifications (organization_id, id);
ALTER TABLE results ADD COLUMN evaluation text NOT NULL DEFAULT 'none';
ALTER TABLE results ADD CONSTRAINT results_evaluation_check
    CHECK (evaluation IN ('pass', 'warn', 'fail', 'below_lod', 'none'));

-- A failed result opens one nonconformance per run and metric; further failures attach to it. Closed by
-- a disposition, signed (Part 11: the signer's printed name, the time, the meaning and the SHA-256 of
-- what was signed).
CREATE TABLE nonconformances (
    organization_id          uuid        NOT NULL,
    id                       uuid        NOT NULL DEFAULT gen_random_uuid(),
    run_id                   uuid        NOT NULL,
    sample_id                uuid        NOT NULL,
    metric                   text        NOT NULL CHECK (btrim(metric) <> ''),
    specification_version_id uuid,
    status                   text        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'UNDER_REVIEW', 'CLOSED')),
    failures                 integer     NOT NULL DEFAULT 1 CHECK (failures >= 1),
    first_value              double precision NOT NULL,
    last_value               double precision NOT NULL,
    opened_by                uuid,
    notes                    text,
    disposition              text        CHECK (disposition IN ('use_as_is', 'rework', 'retest', 'scrap')),
    disposition_comment      text,
    disposed_by              uuid,
    disposed_by_name         text,
    disposed_at              timestamptz,
    signature_sha256         bytea       CHECK (length(signature_sha256) = 32),
    extra_metadata           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT nonconformances_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT nonconformances_closed_check CHECK ((status = 'CLOSED') = (disposition IS NOT NULL)
        AND (disposition IS NULL OR (disposed_by IS NOT NULL AND disposed_at IS NOT NULL AND signature_sha256 IS NOT NULL)))
);
-- One nonconformance open per run and metric: further failures attach to it; after its disposition a
-- new failure opens the next.
CREATE UNIQUE INDEX nonconformances_run_metric_open_key ON nonconformances (organization_id, run_id, metric)
    WHERE status <> 'CLOSED';
CREATE INDEX nonconformances_run_idx ON nonconformances (organization_id, run_id);
CREATE INDEX nonconformances_org_created_idx ON nonconformances (organization_id, created_at DESC, id DESC);
CREATE INDEX nonconformances_sample_idx ON nonconformances (organization_id, sample_id, status);
CREATE INDEX nonconformances_status_idx ON nonconformances (organization_id, status, created_at DESC, id DESC);
SELECT app.distribute_tenant_table('nonconformances');
ALTER TABLE nonconformances ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE nonconformances ADD FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id);
ALTER TABLE nonconformances ADD FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id);
ALTER TABLE nonconformances ADD FOREIGN KEY (organization_id, specification_version_id) REFERENCES specifications (organization_id, id);
ALTER TABLE nonconformances ADD FOREIGN KEY (organization_id, opened_by) REFERENCES users (organization_id, id);
ALTER TABLE nonconformances ADD FOREIGN KEY (organization_id, disposed_by) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('nonconformances', 'SELECT, INSERT, UPDATE');

-- Certificates of analysis: append-only. The PDF as issued and its SHA-256; what it certifies (content).
-- Anyone with the link verifies a PDF by its id: the directory names the certificate's organization.
CREATE TABLE directory.certificate_ids (
    organization_id uuid        NOT NULL,
    certificate_id  uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certificate_ids_pkey PRIMARY KEY (organization_id, certificate_id),
    CONSTRAINT certificate_ids_id_key UNIQUE (certificate_id)
);
SELECT app.reference_table('directory.certificate_ids');
ALTER TABLE directory.certificate_ids ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
SELECT app.apply_tenant_rules('directory.certificate_ids', 'SELECT, INSERT');

CREATE TABLE certificates (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL,
    sample_id       uuid        NOT NULL,
    run_ids         uuid[]      NOT NULL CHECK (array_position(run_ids, NULL) IS NULL),
    content         jsonb       NOT NULL CHECK (jsonb_typeof(content) = 'object'),
    pdf             bytea       NOT NULL,
    sha256          bytea       NOT NULL CHECK (length(sha256) = 32),
    issued_by       uuid        NOT NULL,
    issued_by_name  text        NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certificates_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX certificates_sample_idx ON certificates (organization_id, sample_id, created_at DESC, id DESC);
SELECT app.distribute_tenant_table('certificates');
ALTER TABLE certificates ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE certificates ADD FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id);
ALTER TABLE certificates ADD FOREIGN KEY (organization_id, issued_by) REFERENCES users (organization_id, id);
ALTER TABLE certificates ADD CONSTRAINT certificates_directory_fkey FOREIGN KEY (organization_id, id) REFERENCES directory.certificate_ids (organization_id, certificate_id);
SELECT app.apply_tenant_rules('certificates', 'SELECT, INSERT');

-- The organization of a certificate, for its public verify link (NULL: no such certificate).
CREATE FUNCTION app.certificate_organization(p_id uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT organization_id FROM directory.certificate_ids WHERE certificate_id = p_id
$$;
REVOKE ALL ON FUNCTION app.certificate_organization(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.certificate_organization(uuid) TO spectra_app;

-- A failure quarantines the sample and a disposition releases it: custody events of their own.
ALTER TABLE custody_events DROP CONSTRAINT custody_events_event_type_check;
ALTER TABLE custody_events ADD CONSTRAINT custody_events_event_type_check
    CHECK (event_type IN ('create', 'transfer', 'check_out', 'return', 'consume', 'dispose', 'quarantine', 'release'));

-- A series fed by results: the metric, and optionally the instrument and the recipe, of the results it takes.
ALTER TABLE spc_series ADD COLUMN source_metric text;
ALTER TABLE spc_series ADD CONSTRAINT spc_series_source_metric_check CHECK (btrim(source_metric) <> '');
ALTER TABLE spc_series ADD COLUMN source_instrument_id uuid;
ALTER TABLE spc_series ADD COLUMN source_recipe_id uuid;
ALTER TABLE spc_series ADD CONSTRAINT spc_series_source_check
    CHECK (source_metric IS NOT NULL OR (source_instrument_id IS NULL AND source_recipe_id IS NULL));
ALTER TABLE spc_series ADD FOREIGN KEY (organization_id, source_instrument_id) REFERENCES instruments (organization_id, id);
ALTER TABLE spc_series ADD FOREIGN KEY (organization_id, source_recipe_id) REFERENCES recipes (organization_id, id);
CREATE INDEX spc_series_source_idx ON spc_series (organization_id, source_metric) WHERE source_metric IS NOT NULL AND NOT is_deleted;
