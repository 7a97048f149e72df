-- Undo 0001_initial.up.sql: drop what it created, in reverse order. Dropping a table drops its
-- indexes, triggers, policies and grants. The role spectra_app is kept; its schema grants are revoked.

DROP TABLE public.ml_models;
DROP TABLE public.feature_sets;
DROP TABLE public.spc_alerts;
DROP TABLE public.spc_datapoints;
DROP TABLE public.spc_series;
DROP TABLE public.signatures;
DROP TABLE public.eln_entries;
DROP FUNCTION app.eln_entry_lock_guard();
DROP TABLE public.attachments;
DROP TABLE public.results;
DROP TABLE public.runs;
DROP TABLE public.recipe_approvals;
DROP TABLE public.recipes;
DROP TABLE public.custody_events;
DROP TABLE public.devices;
DROP TABLE public.wafers;
DROP TABLE public.samples;
DROP TABLE public.materials;
DROP TABLE public.sop_acknowledgements;
DROP TABLE public.sops;
DROP TABLE public.calibrations;
DROP TABLE public.instruments;
-- audit_payload takes the table's row type, so it must go before the table.
DROP FUNCTION app.audit_payload(public.audit_events);
DROP TABLE public.audit_events;
DROP FUNCTION app.audit_chain();
DROP TABLE public.refresh_tokens;
DROP TABLE public.api_keys;
DROP TABLE public.users;
DROP TABLE public.organizations;

REVOKE USAGE ON SCHEMA public FROM spectra_app;
DROP EXTENSION IF EXISTS pg_trgm;
DROP SCHEMA app CASCADE;
