-- pgbench: a plain tenant insert (the ceiling for an audited one), as the application role, in one
-- pipeline as the server sends a write.
\startpipeline
BEGIN;
SELECT app.begin_request(:org::uuid, NULL, NULL);
INSERT INTO materials (organization_id, name) VALUES (:org::uuid, 'bench material ' || gen_random_uuid());
COMMIT;
\endpipeline
