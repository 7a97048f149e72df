-- pgbench: the same insert with its audit event in the same transaction, as every domain write has,
-- in one pipeline as the server sends a write.
\startpipeline
BEGIN;
SELECT app.begin_request(:org::uuid, NULL, NULL);
INSERT INTO materials (organization_id, name) VALUES (:org::uuid, 'bench material ' || gen_random_uuid());
INSERT INTO audit_events (organization_id, actor_type, action, entity_type, after)
    VALUES (:org::uuid, 'system', 'material.create', 'material', '{"name": "bench material"}');
COMMIT;
\endpipeline
