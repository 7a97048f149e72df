-- Instrument data: import profiles (how one instrument's files map to results), the imports of files
-- into runs (one per run and SHA-256: the same bytes again add nothing), results with their position on
-- the wafer, and die bin maps (SEMI G85) stored per die. New tables are placed before their foreign keys
-- are added (see 0016).

-- How one instrument's CSV or TSV files become results: which header names hold the metric (or one
-- metric per file), the value, the unit and the positions, lines to skip before the header, a factor
-- for the values, and whether numbers use a decimal comma. Validated by the server.
CREATE TABLE import_profiles (
    organization_id uuid             NOT NULL,
    id              uuid             NOT NULL DEFAULT gen_random_uuid(),
    instrument_id   uuid             NOT NULL,
    name            text             NOT NULL CHECK (btrim(name) <> ''),
    format          text             NOT NULL CHECK (format IN ('csv', 'tsv')),
    skip_lines      integer          NOT NULL DEFAULT 0 CHECK (skip_lines BETWEEN 0 AND 1000),
    columns         jsonb            NOT NULL CHECK (jsonb_typeof(columns) = 'object'),
    metric          text             CHECK (btrim(metric) <> ''),
    unit            text             CHECK (btrim(unit) <> ''),
    unit_scale      double precision NOT NULL DEFAULT 1 CHECK (unit_scale > 0 AND unit_scale < 'Infinity'),
    decimal_comma   boolean          NOT NULL DEFAULT false,
    created_by      uuid,
    extra_metadata  jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT import_profiles_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT import_profiles_name_key UNIQUE (organization_id, name)
);
CREATE INDEX import_profiles_org_created_idx ON import_profiles (organization_id, created_at DESC, id DESC);
CREATE INDEX import_profiles_instrument_idx ON import_profiles (organization_id, instrument_id);
SELECT app.distribute_tenant_table('import_profiles');
ALTER TABLE import_profiles ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE import_profiles ADD FOREIGN KEY (organization_id, instrument_id) REFERENCES instruments (organization_id, id);
ALTER TABLE import_profiles ADD FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('import_profiles', 'SELECT, INSERT, UPDATE');

-- A file imported into a run: the stored attachment, what it became, and its SHA-256, unique per run.
CREATE TABLE run_imports (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    run_id          uuid        NOT NULL,
    profile_id      uuid        NOT NULL,
    attachment_id   uuid        NOT NULL,
    sha256          bytea       NOT NULL CHECK (octet_length(sha256) = 32),
    filename        text        NOT NULL CHECK (btrim(filename) <> ''),
    size_bytes      bigint      NOT NULL CHECK (size_bytes > 0),
    results         integer     NOT NULL CHECK (results >= 1),
    evaluations     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(evaluations) = 'object'),
    imported_by     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT run_imports_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT run_imports_file_key UNIQUE (organization_id, run_id, sha256)
);
CREATE INDEX run_imports_org_created_idx ON run_imports (organization_id, created_at DESC, id DESC);
SELECT app.distribute_tenant_table('run_imports');
ALTER TABLE run_imports ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE run_imports ADD FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id);
ALTER TABLE run_imports ADD FOREIGN KEY (organization_id, profile_id) REFERENCES import_profiles (organization_id, id);
ALTER TABLE run_imports ADD FOREIGN KEY (organization_id, attachment_id) REFERENCES attachments (organization_id, id);
ALTER TABLE run_imports ADD FOREIGN KEY (organization_id, imported_by) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('run_imports', 'SELECT, INSERT');

-- A result's position: millimetres from the wafer's centre (both or neither), the die (both or neither),
-- the site's name; and the import it came from.
ALTER TABLE results ADD COLUMN x_mm double precision;
ALTER TABLE results ADD COLUMN y_mm double precision;
ALTER TABLE results ADD COLUMN die_x integer;
ALTER TABLE results ADD COLUMN die_y integer;
ALTER TABLE results ADD COLUMN site text;
ALTER TABLE results ADD COLUMN import_id uuid;
ALTER TABLE results ADD CONSTRAINT results_position_check
    CHECK ((x_mm IS NULL) = (y_mm IS NULL) AND x_mm > '-Infinity' AND x_mm < 'Infinity'
           AND y_mm > '-Infinity' AND y_mm < 'Infinity');
ALTER TABLE results ADD CONSTRAINT results_die_check CHECK ((die_x IS NULL) = (die_y IS NULL));
ALTER TABLE results ADD CONSTRAINT results_site_check CHECK (btrim(site) <> '' AND length(site) <= 100);
ALTER TABLE results ADD FOREIGN KEY (organization_id, import_id) REFERENCES run_imports (organization_id, id);
-- A run's positioned results by metric: the wafer map's points and the metrics that have positions.
CREATE INDEX results_positioned_idx ON results (organization_id, run_id, metric) WHERE x_mm IS NOT NULL;

-- A run's die bin map (SEMI G85): its header, its bins (code, count, quality, description) and the
-- attributes kept for writing it back; the dies in bin_map_dies.
CREATE TABLE bin_maps (
    organization_id uuid             NOT NULL,
    id              uuid             NOT NULL DEFAULT gen_random_uuid(),
    run_id          uuid             NOT NULL,
    wafer_id        text,
    lot_id          text,
    product_id      text,
    format_revision text,
    bin_type        text             NOT NULL CHECK (bin_type IN ('ASCII', 'Decimal', 'HexaDecimal')),
    null_bin        text             NOT NULL,
    rows            integer          NOT NULL CHECK (rows BETWEEN 1 AND 4096),
    columns         integer          NOT NULL CHECK (columns BETWEEN 1 AND 4096),
    wafer_size      double precision,
    device_size_x   double precision,
    device_size_y   double precision,
    orientation     integer          NOT NULL DEFAULT 0,
    origin_location integer          NOT NULL DEFAULT 0,
    reference_x     integer,
    reference_y     integer,
    bins            jsonb            NOT NULL CHECK (jsonb_typeof(bins) = 'array'),
    attributes      jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    tested          integer          NOT NULL CHECK (tested >= 0),
    passed          integer          NOT NULL CHECK (passed >= 0 AND passed <= tested),
    created_by      uuid,
    created_at      timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT bin_maps_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT bin_maps_run_key UNIQUE (organization_id, run_id)
);
SELECT app.distribute_tenant_table('bin_maps');
ALTER TABLE bin_maps ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE bin_maps ADD FOREIGN KEY (organization_id, run_id) REFERENCES runs (organization_id, id);
ALTER TABLE bin_maps ADD FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('bin_maps', 'SELECT, INSERT');

-- One row per die that is on the map (the null bin is not stored): its row and column in the map, as
-- the file wrote them, and its bin code. Keyed by its map and place rather than an id of its own: a
-- map holds up to a million dies, and a die is never named on its own.
CREATE TABLE bin_map_dies (
    organization_id uuid    NOT NULL,
    bin_map_id      uuid    NOT NULL,
    row_index       integer NOT NULL CHECK (row_index >= 0),
    column_index    integer NOT NULL CHECK (column_index >= 0),
    bin_code        text    NOT NULL,
    CONSTRAINT bin_map_dies_pkey PRIMARY KEY (organization_id, bin_map_id, row_index, column_index)
);
SELECT app.distribute_tenant_table('bin_map_dies');
ALTER TABLE bin_map_dies ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE bin_map_dies ADD FOREIGN KEY (organization_id, bin_map_id) REFERENCES bin_maps (organization_id, id);
ALTER TABLE bin_map_dies ENABLE ROW LEVEL SECURITY;
ALTER TABLE bin_map_dies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bin_map_dies TO spectra_app
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
DO $$ BEGIN EXECUTE format('CREATE POLICY owner_access ON bin_map_dies TO %I USING (true) WITH CHECK (true)', current_user); END $$;
GRANT SELECT, INSERT ON bin_map_dies TO spectra_app;
