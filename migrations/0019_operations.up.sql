-- Operations: the outgoing queues as the metrics show them. The sender's leader (the dispatcher, as the
-- application role) reads every organization's pending webhook deliveries and mail each round; only
-- these counts leave the function.
CREATE FUNCTION app.notification_queues(OUT queue text, OUT pending bigint, OUT due bigint) RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT 'webhook'::text, count(*), count(*) FILTER (WHERE next_attempt_at <= now())
      FROM public.webhook_deliveries WHERE status = 'pending'
    UNION ALL
    SELECT 'mail'::text, count(*), count(*) FILTER (WHERE next_attempt_at <= now())
      FROM public.mail_queue WHERE status = 'pending'
$$;
REVOKE ALL ON FUNCTION app.notification_queues() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.notification_queues() TO spectra_app;
-- On Citus it reads every worker, which the application role may not do itself (db::distribute's
-- fan_out_functions, for databases distributed before this migration).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        ALTER FUNCTION app.notification_queues() SET citus.multi_task_query_log_level = 'off';
    END IF;
END
$$;
