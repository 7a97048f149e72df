-- Back to arrays and loose references, and families without a flag of their own.
ALTER TABLE attachments ADD COLUMN entity_type text, ADD COLUMN entity_id uuid;
UPDATE attachments a
   SET entity_type = CASE WHEN l.sample_id IS NOT NULL THEN 'sample' WHEN l.eln_entry_id IS NOT NULL THEN 'eln_entry'
                          WHEN l.instrument_id IS NOT NULL THEN 'instrument' WHEN l.calibration_id IS NOT NULL THEN 'calibration'
                          WHEN l.recipe_id IS NOT NULL THEN 'recipe' WHEN l.sop_id IS NOT NULL THEN 'sop' ELSE 'ml_model' END,
       entity_id = coalesce(l.sample_id, l.eln_entry_id, l.instrument_id, l.calibration_id, l.recipe_id, l.sop_id,
                            l.ml_model_id)
  FROM attachment_links l
 WHERE l.organization_id = a.organization_id AND l.attachment_id = a.id;
ALTER TABLE attachments ADD CONSTRAINT attachments_entity_check CHECK ((entity_type IS NULL) = (entity_id IS NULL));
CREATE INDEX attachments_entity_idx ON attachments (organization_id, entity_type, entity_id);

ALTER TABLE spc_alerts ADD COLUMN point_ids uuid[] NOT NULL DEFAULT '{}' CHECK (array_position(point_ids, NULL) IS NULL);
UPDATE spc_alerts a SET point_ids = p.ids
  FROM (SELECT organization_id, alert_id, array_agg(datapoint_id ORDER BY datapoint_id) AS ids
          FROM spc_alert_points GROUP BY organization_id, alert_id) p
 WHERE p.organization_id = a.organization_id AND p.alert_id = a.id;

ALTER TABLE eln_entries ADD COLUMN sample_ids uuid[] NOT NULL DEFAULT '{}' CHECK (array_position(sample_ids, NULL) IS NULL);
ALTER TABLE eln_entries DISABLE TRIGGER eln_entry_lock_guard;
UPDATE eln_entries e SET sample_ids = s.ids
  FROM (SELECT organization_id, eln_entry_id, array_agg(sample_id ORDER BY sample_id) AS ids
          FROM eln_entry_samples GROUP BY organization_id, eln_entry_id) s
 WHERE s.organization_id = e.organization_id AND s.eln_entry_id = e.id;
ALTER TABLE eln_entries ENABLE TRIGGER eln_entry_lock_guard;

CREATE OR REPLACE FUNCTION app.eln_entry_lock_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.locked_at IS NOT NULL AND (
           NEW.locked_at IS NULL
        OR NEW.signed IS DISTINCT FROM true
        OR (NEW.title, NEW.body_markdown, NEW.tags, NEW.sample_ids, NEW.author_id,
            NEW.amends_entry_id, NEW.extra_metadata, NEW.organization_id, NEW.id)
           IS DISTINCT FROM
           (OLD.title, OLD.body_markdown, OLD.tags, OLD.sample_ids, OLD.author_id,
            OLD.amends_entry_id, OLD.extra_metadata, OLD.organization_id, OLD.id))
    THEN
        RAISE EXCEPTION 'eln entry % is signed and locked', OLD.id
            USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END
$$;

DROP TABLE attachment_links;
DROP TABLE spc_alert_points;
DROP TABLE eln_entry_samples;
DROP FUNCTION app.eln_entry_samples_lock_guard();

DROP FUNCTION app.purge_expired_refresh_tokens();
DROP FUNCTION app.revoke_refresh_families(uuid, uuid, text);
CREATE OR REPLACE FUNCTION app.find_refresh_token(p_hash bytea)
RETURNS TABLE (organization_id uuid, id uuid, user_id uuid, family_id uuid, expired boolean, used boolean,
               revoked boolean, role text, email text, user_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, app, pg_temp AS $$
    SELECT t.organization_id, t.id, t.user_id, t.family_id, t.expires_at <= now(), t.used_at IS NOT NULL,
           t.revoked_at IS NOT NULL, u.role, u.email, u.is_active AND NOT o.is_deleted
    FROM refresh_tokens t
    JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
    JOIN organizations o ON o.id = t.organization_id
    WHERE t.token_hash = p_hash
$$;
-- A token of a revoked family stays revoked without the family's flag.
UPDATE refresh_tokens t SET revoked_at = f.revoked_at, revoked_reason = f.revoked_reason
  FROM refresh_token_families f
 WHERE f.organization_id = t.organization_id AND f.id = t.family_id AND f.revoked_at IS NOT NULL
   AND t.revoked_at IS NULL;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_family_fkey;
DROP TABLE refresh_token_families;
