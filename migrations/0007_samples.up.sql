-- Samples: scannable barcodes, searchable by part of the barcode; a custody chain that cannot fork;
-- material names and die positions that do not repeat; wafer properties within physical bounds.

-- ?q= matches part of the name or of the barcode (the name has its trigram index since 0001).
CREATE INDEX samples_barcode_trgm_idx ON samples USING gin (barcode gin_trgm_ops);
-- What a label can print and a scanner can type back (Code 128 within ASCII, no spaces). NOT VALID:
-- a barcode stored before this revision stays readable (and is refused only when it is changed).
ALTER TABLE samples ADD CONSTRAINT samples_barcode_format_check
    CHECK (barcode ~ '^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$') NOT VALID;

-- Custody: a sample's events are numbered 1, 2, 3, ... in the order they happened, and each event's
-- "from" is the sample's state after the one before. The writer holds the sample's row lock and
-- assigns samples.custody_seq + 1; the unique key makes a second event claiming the same place in
-- the chain impossible even for a writer that forgot the lock.
ALTER TABLE samples ADD COLUMN custody_seq integer NOT NULL DEFAULT 0;
ALTER TABLE custody_events ADD COLUMN seq integer;
-- A sample created before this revision without its creation event gets one now.
INSERT INTO custody_events (organization_id, sample_id, event_type, to_location, to_user_id, actor_id,
                            occurred_at, created_at)
SELECT s.organization_id, s.id, 'create', s.location, s.custodian_id, s.created_by, s.created_at, s.created_at
  FROM samples s
 WHERE NOT EXISTS (SELECT 1 FROM custody_events c
                    WHERE c.organization_id = s.organization_id AND c.sample_id = s.id);
UPDATE custody_events c SET seq = x.n
  FROM (SELECT organization_id, id,
               row_number() OVER (PARTITION BY organization_id, sample_id ORDER BY occurred_at, created_at, id) AS n
          FROM custody_events) x
 WHERE c.organization_id = x.organization_id AND c.id = x.id;
UPDATE samples s SET custody_seq = x.n
  FROM (SELECT organization_id, sample_id, max(seq) AS n FROM custody_events GROUP BY organization_id, sample_id) x
 WHERE s.organization_id = x.organization_id AND s.id = x.sample_id;
ALTER TABLE custody_events ALTER COLUMN seq SET NOT NULL;
ALTER TABLE custody_events ADD CONSTRAINT custody_events_seq_check CHECK (seq > 0);
ALTER TABLE custody_events ADD CONSTRAINT custody_events_sample_seq_key UNIQUE (organization_id, sample_id, seq);

-- One live material of a name per organization (case does not make a new material).
CREATE UNIQUE INDEX materials_name_key ON materials (organization_id, lower(name)) WHERE NOT is_deleted;

-- A device's die position is both coordinates or neither, and unique on its wafer.
ALTER TABLE devices ADD CONSTRAINT devices_die_position_check CHECK ((die_x IS NULL) = (die_y IS NULL));
CREATE UNIQUE INDEX devices_die_key ON devices (organization_id, wafer_id, die_x, die_y)
    WHERE NOT is_deleted AND die_x IS NOT NULL;

-- Physically possible wafers: from degenerately doped (1e-5 ohm cm) to semi-insulating (1e12), and
-- from thinned (10 um) to thick substrates (5 mm).
ALTER TABLE wafers ADD CONSTRAINT wafers_resistivity_range_check
    CHECK (resistivity_ohm_cm BETWEEN 1e-5 AND 1e12);
ALTER TABLE wafers ADD CONSTRAINT wafers_thickness_range_check CHECK (thickness_um BETWEEN 10 AND 5000);

-- Whether p_target is p_start or one of its ancestors (its parent, the parent's parent, ...) in one
-- organization: a new parent for which this holds would close a cycle. One indexed lookup per
-- generation, each routed to the organization's shard on Citus. Runs as the caller (row-level security).
CREATE FUNCTION app.sample_lineage_includes(p_org uuid, p_start uuid, p_target uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    cur uuid := p_start;
    generations integer := 0;
BEGIN
    WHILE cur IS NOT NULL AND generations < 100000 LOOP
        IF cur = p_target THEN
            RETURN true;
        END IF;
        SELECT parent_sample_id INTO cur FROM samples WHERE organization_id = p_org AND id = cur;
        generations := generations + 1;
    END LOOP;
    RETURN false;
END
$$;
REVOKE ALL ON FUNCTION app.sample_lineage_includes(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.sample_lineage_includes(uuid, uuid, uuid) TO spectra_app;
