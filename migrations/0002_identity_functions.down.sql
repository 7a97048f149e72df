REVOKE SELECT ON spectra_schema_migrations FROM spectra_app;
DROP FUNCTION app.use_api_key(text, bytea);
DROP FUNCTION app.find_refresh_token(bytea);
DROP FUNCTION app.find_login(text);
DROP FUNCTION app.begin_request(uuid, uuid, text);
