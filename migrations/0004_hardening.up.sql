-- Hardening: refresh families carry their own revoked flag (a rotation that commits while its family
-- is being revoked for reuse cannot escape), expired refresh tokens can be purged, and references held
-- in arrays or loose columns become link tables with composite foreign keys, so they can never point
-- into another organization.

-- ---------------------------------------------------------------------------------------------
-- Refresh token families
-- ---------------------------------------------------------------------------------------------
CREATE TABLE refresh_token_families (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    extra_metadata  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refresh_token_families_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id)
);
CREATE INDEX refresh_token_families_user_idx ON refresh_token_families (organization_id, user_id);

INSERT INTO refresh_token_families (organization_id, id, user_id, created_at, revoked_at, revoked_reason)
SELECT t.organization_id, t.family_id, min(t.user_id::text)::uuid, min(t.created_at),
       max(t.revoked_at) FILTER (WHERE t.revoked_reason = 'reuse detected'),
       CASE WHEN bool_or(t.revoked_reason = 'reuse detected') THEN 'reuse detected' END
  FROM refresh_tokens t
 GROUP BY t.organization_id, t.family_id;

ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_family_fkey
    FOREIGN KEY (organization_id, family_id) REFERENCES refresh_token_families (organization_id, id);

CREATE TRIGGER touch_updated_at BEFORE UPDATE ON refresh_token_families
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
ALTER TABLE refresh_token_families ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_token_families FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_token_families TO spectra_app
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
DO $$ BEGIN
    EXECUTE format('CREATE POLICY owner_access ON public.refresh_token_families TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
GRANT SELECT, INSERT, UPDATE ON refresh_token_families TO spectra_app;

-- A token of a revoked family is revoked, whatever its own row says.
CREATE OR REPLACE FUNCTION app.find_refresh_token(p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, family_id uuid, expired boolean, used boolean,
               revoked boolean, role text, email text, user_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at <= now(), t.used_at IS NOT NULL,
           t.revoked_at IS NOT NULL OR f.revoked_at IS NOT NULL, u.role, u.email, u.is_active AND NOT o.is_deleted
    FROM refresh_tokens t
    JOIN refresh_token_families f ON f.organization_id = t.organization_id AND f.id = t.family_id
    JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
    JOIN organizations o ON o.id = t.organization_id
    WHERE t.token_hash = p_hash
$$;

-- The one way a session ends early: its family is revoked (which rotation and refresh check), and
-- its tokens with it. One family (p_family), or every family of a user (p_user); never neither.
-- Runs as the caller, under row-level security, in the caller's organization.
CREATE FUNCTION app.revoke_refresh_families(p_user uuid, p_family uuid, p_reason text) RETURNS integer
LANGUAGE sql SET search_path = public, app, pg_temp AS $$
    WITH family AS (
        UPDATE refresh_token_families f
           SET revoked_at = coalesce(f.revoked_at, now()), revoked_reason = coalesce(f.revoked_reason, p_reason)
         WHERE f.organization_id = app.current_org_id() AND (p_family IS NOT NULL OR p_user IS NOT NULL)
           AND (p_family IS NULL OR f.id = p_family) AND (p_user IS NULL OR f.user_id = p_user)
        RETURNING f.id),
    tokens AS (
        UPDATE refresh_tokens t SET revoked_at = now(), revoked_reason = p_reason
         WHERE t.organization_id = app.current_org_id() AND t.family_id IN (SELECT id FROM family)
           AND t.revoked_at IS NULL
        RETURNING 1)
    SELECT count(*)::integer FROM family
$$;
REVOKE ALL ON FUNCTION app.revoke_refresh_families(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.revoke_refresh_families(uuid, uuid, text) TO spectra_app;

-- Expired refresh tokens (a day past expiry, so a late reuse is still recognised) are deleted; the
-- sequencer's leader calls this periodically. Answers how many.
CREATE FUNCTION app.purge_expired_refresh_tokens() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    WITH gone AS (
        DELETE FROM refresh_tokens t
         WHERE t.expires_at < now() - interval '1 day'
           -- a token another (live) token names as its successor's predecessor stays
           AND NOT EXISTS (SELECT 1 FROM refresh_tokens n
                            WHERE n.organization_id = t.organization_id AND n.replaced_by = t.id
                              AND n.expires_at >= now() - interval '1 day')
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION app.purge_expired_refresh_tokens() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.purge_expired_refresh_tokens() TO spectra_app;

-- ---------------------------------------------------------------------------------------------
-- Link tables instead of arrays and loose references
-- ---------------------------------------------------------------------------------------------
CREATE TABLE eln_entry_samples (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    eln_entry_id    uuid        NOT NULL,
    sample_id       uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT eln_entry_samples_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT eln_entry_samples_entry_sample_key UNIQUE (organization_id, eln_entry_id, sample_id),
    FOREIGN KEY (organization_id, eln_entry_id) REFERENCES eln_entries (organization_id, id),
    FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id)
);
CREATE INDEX eln_entry_samples_sample_idx ON eln_entry_samples (organization_id, sample_id);
INSERT INTO eln_entry_samples (organization_id, eln_entry_id, sample_id)
SELECT DISTINCT e.organization_id, e.id, s.sample_id
  FROM eln_entries e CROSS JOIN LATERAL unnest(e.sample_ids) AS s(sample_id)
  JOIN samples x ON x.organization_id = e.organization_id AND x.id = s.sample_id;

CREATE TABLE spc_alert_points (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    alert_id        uuid        NOT NULL,
    datapoint_id    uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT spc_alert_points_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT spc_alert_points_alert_point_key UNIQUE (organization_id, alert_id, datapoint_id),
    FOREIGN KEY (organization_id, alert_id) REFERENCES spc_alerts (organization_id, id),
    FOREIGN KEY (organization_id, datapoint_id) REFERENCES spc_datapoints (organization_id, id)
);
INSERT INTO spc_alert_points (organization_id, alert_id, datapoint_id)
SELECT DISTINCT a.organization_id, a.id, p.datapoint_id
  FROM spc_alerts a CROSS JOIN LATERAL unnest(a.point_ids) AS p(datapoint_id)
  JOIN spc_datapoints d ON d.organization_id = a.organization_id AND d.id = p.datapoint_id;

-- What an attachment is attached to: exactly one target, each by a composite foreign key.
CREATE TABLE attachment_links (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    attachment_id   uuid        NOT NULL,
    sample_id       uuid,
    eln_entry_id    uuid,
    instrument_id   uuid,
    calibration_id  uuid,
    recipe_id       uuid,
    sop_id          uuid,
    ml_model_id     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT attachment_links_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT attachment_links_one_target_check CHECK (num_nonnulls(sample_id, eln_entry_id, instrument_id,
        calibration_id, recipe_id, sop_id, ml_model_id) = 1),
    FOREIGN KEY (organization_id, attachment_id) REFERENCES attachments (organization_id, id),
    FOREIGN KEY (organization_id, sample_id) REFERENCES samples (organization_id, id),
    FOREIGN KEY (organization_id, eln_entry_id) REFERENCES eln_entries (organization_id, id),
    FOREIGN KEY (organization_id, instrument_id) REFERENCES instruments (organization_id, id),
    FOREIGN KEY (organization_id, calibration_id) REFERENCES calibrations (organization_id, id),
    FOREIGN KEY (organization_id, recipe_id) REFERENCES recipes (organization_id, id),
    FOREIGN KEY (organization_id, sop_id) REFERENCES sops (organization_id, id),
    FOREIGN KEY (organization_id, ml_model_id) REFERENCES ml_models (organization_id, id)
);
CREATE INDEX attachment_links_attachment_idx ON attachment_links (organization_id, attachment_id);
-- Only references that resolve in the attachment's own organization become links.
INSERT INTO attachment_links (organization_id, attachment_id, sample_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN samples t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'sample';
INSERT INTO attachment_links (organization_id, attachment_id, eln_entry_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN eln_entries t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'eln_entry';
INSERT INTO attachment_links (organization_id, attachment_id, instrument_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN instruments t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'instrument';
INSERT INTO attachment_links (organization_id, attachment_id, calibration_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN calibrations t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'calibration';
INSERT INTO attachment_links (organization_id, attachment_id, recipe_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN recipes t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'recipe';
INSERT INTO attachment_links (organization_id, attachment_id, sop_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN sops t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'sop';
INSERT INTO attachment_links (organization_id, attachment_id, ml_model_id)
SELECT a.organization_id, a.id, a.entity_id FROM attachments a
  JOIN ml_models t ON t.organization_id = a.organization_id AND t.id = a.entity_id WHERE a.entity_type = 'ml_model';
-- Anything else (a run is attachments.run_id already; an unknown type or a reference that does not
-- resolve) is kept in the attachment's extra_metadata rather than lost.
UPDATE attachments a
   SET extra_metadata = a.extra_metadata || jsonb_build_object('unlinked_entity',
                                                               jsonb_build_object('type', a.entity_type, 'id', a.entity_id))
 WHERE a.entity_type IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM attachment_links l WHERE l.organization_id = a.organization_id AND l.attachment_id = a.id);

-- The link tables follow the tenant rules of every other table.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['eln_entry_samples', 'spc_alert_points', 'attachment_links'] LOOP
        EXECUTE format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.%I '
                       'FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at()', t);
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON public.%I TO spectra_app '
                       'USING (organization_id = app.current_org_id()) '
                       'WITH CHECK (organization_id = app.current_org_id())', t);
        EXECUTE format('CREATE POLICY owner_access ON public.%I TO %I USING (true) WITH CHECK (true)', t, current_user);
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON public.%I TO spectra_app', t);
    END LOOP;
END
$$;

-- A signed entry's samples are as fixed as its text.
CREATE FUNCTION app.eln_entry_samples_lock_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    entry_org uuid := coalesce(NEW.organization_id, OLD.organization_id);
    entry_id  uuid := coalesce(NEW.eln_entry_id, OLD.eln_entry_id);
    locked    timestamptz;
BEGIN
    -- FOR SHARE: a signature being written waits for this link to commit, or this link for it.
    SELECT e.locked_at INTO locked FROM eln_entries e
     WHERE e.organization_id = entry_org AND e.id = entry_id FOR SHARE;
    IF locked IS NOT NULL THEN
        RAISE EXCEPTION 'eln entry % is signed and locked', entry_id USING ERRCODE = '55000';
    END IF;
    RETURN coalesce(NEW, OLD);
END
$$;
CREATE TRIGGER eln_entry_samples_lock_guard BEFORE INSERT OR DELETE ON eln_entry_samples
    FOR EACH ROW EXECUTE FUNCTION app.eln_entry_samples_lock_guard();

CREATE OR REPLACE FUNCTION app.eln_entry_lock_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.locked_at IS NOT NULL AND (
           NEW.locked_at IS NULL
        OR NEW.signed IS DISTINCT FROM true
        OR (NEW.title, NEW.body_markdown, NEW.tags, NEW.author_id,
            NEW.amends_entry_id, NEW.extra_metadata, NEW.organization_id, NEW.id)
           IS DISTINCT FROM
           (OLD.title, OLD.body_markdown, OLD.tags, OLD.author_id,
            OLD.amends_entry_id, OLD.extra_metadata, OLD.organization_id, OLD.id))
    THEN
        RAISE EXCEPTION 'eln entry % is signed and locked', OLD.id
            USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$;

ALTER TABLE eln_entries DROP COLUMN sample_ids;
ALTER TABLE spc_alerts DROP COLUMN point_ids;
DROP INDEX attachments_entity_idx;
ALTER TABLE attachments DROP CONSTRAINT attachments_entity_check;
ALTER TABLE attachments DROP COLUMN entity_type, DROP COLUMN entity_id;
