-- Notifications and webhooks. Events come from committed changes only: a dispatcher follows each
-- organization's audit chain (linked in commit order by the sequencer) from a cursor of its own, and
-- turns the actions named in directory.notification_event_sources into notifications, webhook deliveries and
-- mail, in one transaction with the cursor's advance (each event exactly once). A later event type is
-- a row here. New tables are placed before their foreign keys are added (see 0016).

-- The event types, and who each reaches: lab_staff (engineers, PIs, admins), quality (PIs, admins),
-- creator (who made the entity), approvers (who may decide it, never its author), booking_user,
-- admins.
CREATE TABLE directory.notification_event_types (
    event       text NOT NULL,
    audience    text NOT NULL CHECK (audience IN ('lab_staff', 'quality', 'creator', 'approvers', 'booking_user', 'admins')),
    title       text NOT NULL CHECK (btrim(title) <> ''),
    description text NOT NULL,
    CONSTRAINT notification_event_types_pkey PRIMARY KEY (event)
);
SELECT app.reference_table('directory.notification_event_types');
INSERT INTO directory.notification_event_types (event, audience, title, description) VALUES
    ('calibration.due', 'lab_staff', 'Calibration due', 'A calibration enters the organization''s notice window'),
    ('calibration.expired', 'lab_staff', 'Calibration expired', 'A calibration lapsed or was expired by hand'),
    ('run.blocked', 'creator', 'Run blocked', 'A run was blocked (calibration lockout or an SPC hold)'),
    ('spc.alert_opened', 'lab_staff', 'SPC alert', 'A batch of points opened SPC alerts'),
    ('nonconformance.opened', 'quality', 'Nonconformance opened', 'A result failed its specification'),
    ('recipe.submitted', 'approvers', 'Recipe submitted', 'A recipe waits for approval'),
    ('sop.submitted', 'approvers', 'SOP submitted', 'An SOP draft waits for approval'),
    ('specification.submitted', 'approvers', 'Specification submitted', 'A specification draft waits for approval'),
    ('booking.cancelled', 'booking_user', 'Booking cancelled', 'A booking was cancelled'),
    ('webhook.disabled', 'admins', 'Webhook disabled', 'A webhook endpoint failed 50 times in a row and was disabled');

-- Which audit actions raise which event.
CREATE TABLE directory.notification_event_sources (
    audit_action text NOT NULL,
    event        text NOT NULL,
    CONSTRAINT notification_event_sources_pkey PRIMARY KEY (audit_action)
);
SELECT app.reference_table('directory.notification_event_sources');
ALTER TABLE directory.notification_event_sources ADD FOREIGN KEY (event) REFERENCES directory.notification_event_types (event);
INSERT INTO directory.notification_event_sources (audit_action, event) VALUES
    ('calibration.due', 'calibration.due'),
    ('calibration.lapse', 'calibration.expired'),
    ('calibration.expire', 'calibration.expired'),
    ('run.block', 'run.blocked'),
    ('spc_points.add', 'spc.alert_opened'),
    ('nonconformance.open', 'nonconformance.opened'),
    ('recipe.submit', 'recipe.submitted'),
    ('sop.create', 'sop.submitted'),
    ('sop.version', 'sop.submitted'),
    ('specification.create', 'specification.submitted'),
    ('specification.version', 'specification.submitted'),
    ('booking.cancel', 'booking.cancelled'),
    ('webhook.disable', 'webhook.disabled');
GRANT SELECT ON directory.notification_event_types, directory.notification_event_sources TO spectra_app;

-- How far each consumer of an organization's audit chain has read (id: the consumer's name), and the
-- day of the last daily digest.
CREATE TABLE outbox_cursors (
    organization_id uuid        NOT NULL,
    id              text        NOT NULL CHECK (id IN ('notifications', 'digest')),
    last_seq        bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_day        date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT outbox_cursors_pkey PRIMARY KEY (organization_id, id)
);
SELECT app.distribute_tenant_table('outbox_cursors');
ALTER TABLE outbox_cursors ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
SELECT app.apply_tenant_rules('outbox_cursors', 'SELECT, INSERT, UPDATE');
-- Organizations that exist now start from their chain's head (their past is not news); later ones
-- from the start.
INSERT INTO outbox_cursors (organization_id, id, last_seq)
SELECT organization_id, 'notifications', max(seq) FROM audit_events WHERE seq IS NOT NULL GROUP BY organization_id;

-- A person's notification: seq is the audit event's (one per person and event), so a stream resumes
-- from it (Last-Event-ID). email: what the person's preference made of it (null: no mail; queued: sent
-- immediately; daily: waits for the digest; digested).
CREATE TABLE notifications (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL,
    seq             bigint      NOT NULL CHECK (seq >= 1),
    event           text        NOT NULL,
    title           text        NOT NULL,
    body            text        NOT NULL,
    entity_type     text,
    entity_id       uuid,
    in_app          boolean     NOT NULL DEFAULT true,
    email           text        CHECK (email IN ('queued', 'daily', 'digested')),
    read_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT notifications_user_seq_key UNIQUE (organization_id, user_id, seq)
);
CREATE INDEX notifications_unread_idx ON notifications (organization_id, user_id, seq) WHERE read_at IS NULL AND in_app;
CREATE INDEX notifications_daily_idx ON notifications (organization_id, user_id) WHERE email = 'daily';
SELECT app.distribute_tenant_table('notifications');
ALTER TABLE notifications ADD FOREIGN KEY (event) REFERENCES directory.notification_event_types (event);
ALTER TABLE notifications ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE notifications ADD FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('notifications', 'SELECT, INSERT, UPDATE');

-- A person's choice per event type; no row: in the app, no mail.
CREATE TABLE notification_preferences (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL,
    event           text        NOT NULL,
    in_app          boolean     NOT NULL DEFAULT true,
    email           text        NOT NULL DEFAULT 'off' CHECK (email IN ('off', 'immediate', 'daily')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_preferences_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT notification_preferences_user_event_key UNIQUE (organization_id, user_id, event)
);
SELECT app.distribute_tenant_table('notification_preferences');
ALTER TABLE notification_preferences ADD FOREIGN KEY (event) REFERENCES directory.notification_event_types (event);
ALTER TABLE notification_preferences ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE notification_preferences ADD FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('notification_preferences', 'SELECT, INSERT, UPDATE');

-- Mail waiting to go, with its retries (a failing SMTP server loses nothing).
CREATE TABLE mail_queue (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL,
    to_address      text        NOT NULL CHECK (btrim(to_address) <> ''),
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('immediate', 'digest')),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mail_queue_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX mail_queue_due_idx ON mail_queue (organization_id, next_attempt_at) WHERE status = 'pending';
SELECT app.distribute_tenant_table('mail_queue');
ALTER TABLE mail_queue ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE mail_queue ADD FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('mail_queue', 'SELECT, INSERT, UPDATE');

-- An admin's webhook endpoint: its URL, the event types it takes, its signing secret (whsec_…, shown
-- once), and the failures in a row that disable it at 50.
CREATE TABLE webhook_endpoints (
    organization_id  uuid        NOT NULL,
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    url              text        NOT NULL CHECK (url ~ '^https?://'),
    events           text[]      NOT NULL CHECK (cardinality(events) >= 1),
    description      text,
    secret           text        NOT NULL CHECK (secret ~ '^whsec_'),
    is_active        boolean     NOT NULL DEFAULT true,
    failures_in_row  integer     NOT NULL DEFAULT 0 CHECK (failures_in_row >= 0),
    disabled_reason  text,
    is_deleted       boolean     NOT NULL DEFAULT false,
    created_by       uuid,
    extra_metadata   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra_metadata) = 'object'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX webhook_endpoints_org_created_idx ON webhook_endpoints (organization_id, created_at DESC, id DESC);
SELECT app.distribute_tenant_table('webhook_endpoints');
ALTER TABLE webhook_endpoints ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE webhook_endpoints ADD FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id);
SELECT app.apply_tenant_rules('webhook_endpoints', 'SELECT, INSERT, UPDATE');

-- One message to one endpoint: its body as signed (the same bytes and webhook-id on every retry), and
-- where its retries stand.
CREATE TABLE webhook_deliveries (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    endpoint_id     uuid        NOT NULL,
    message_id      text        NOT NULL CHECK (message_id ~ '^msg_'),
    event           text        NOT NULL,
    payload         text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT webhook_deliveries_message_key UNIQUE (organization_id, endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (organization_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (organization_id, endpoint_id, created_at DESC, id DESC);
SELECT app.distribute_tenant_table('webhook_deliveries');
ALTER TABLE webhook_deliveries ADD FOREIGN KEY (event) REFERENCES directory.notification_event_types (event);
ALTER TABLE webhook_deliveries ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE webhook_deliveries ADD FOREIGN KEY (organization_id, endpoint_id) REFERENCES webhook_endpoints (organization_id, id);
SELECT app.apply_tenant_rules('webhook_deliveries', 'SELECT, INSERT, UPDATE');

-- Each attempt of a delivery: the answer's status (null: none came), how long it took, what failed,
-- and the first 1,024 characters of the answer.
CREATE TABLE webhook_attempts (
    organization_id  uuid        NOT NULL,
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    delivery_id      uuid        NOT NULL,
    status_code      integer,
    duration_ms      integer     NOT NULL CHECK (duration_ms >= 0),
    error            text,
    response_excerpt text        CHECK (length(response_excerpt) <= 1024),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (organization_id, delivery_id, created_at);
SELECT app.distribute_tenant_table('webhook_attempts');
ALTER TABLE webhook_attempts ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE webhook_attempts ADD FOREIGN KEY (organization_id, delivery_id) REFERENCES webhook_deliveries (organization_id, id);
SELECT app.apply_tenant_rules('webhook_attempts', 'SELECT, INSERT');

-- A calibration's notices, each sent once: 'due' when it enters the notice window (or is created in
-- it), 'expired' when it lapses.
CREATE TABLE calibration_notices (
    organization_id uuid        NOT NULL,
    calibration_id  uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('due', 'expired')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calibration_notices_pkey PRIMARY KEY (organization_id, calibration_id, kind)
);
SELECT app.distribute_tenant_table('calibration_notices');
ALTER TABLE calibration_notices ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);
ALTER TABLE calibration_notices ADD FOREIGN KEY (organization_id, calibration_id) REFERENCES calibrations (organization_id, id);
ALTER TABLE calibration_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE calibration_notices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calibration_notices TO spectra_app
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
DO $$ BEGIN EXECUTE format('CREATE POLICY owner_access ON calibration_notices TO %I USING (true) WITH CHECK (true)', current_user); END $$;
GRANT SELECT, INSERT ON calibration_notices TO spectra_app;

-- The organizations the dispatcher serves (it runs without a tenant context, then takes each one's).
CREATE FUNCTION app.notification_organizations() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id FROM public.organizations WHERE NOT is_deleted ORDER BY id
$$;
REVOKE ALL ON FUNCTION app.notification_organizations() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.notification_organizations() TO spectra_app;

-- The organizations with webhook deliveries or mail due (the sender's round).
CREATE FUNCTION app.notification_sends_due() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT organization_id FROM public.webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
    UNION
    SELECT organization_id FROM public.mail_queue WHERE status = 'pending' AND next_attempt_at <= now()
$$;
REVOKE ALL ON FUNCTION app.notification_sends_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.notification_sends_due() TO spectra_app;
-- On Citus it reads every worker, which the application role may not do itself (db::distribute's
-- fan_out_functions, for databases distributed before this migration).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        ALTER FUNCTION app.notification_sends_due() SET citus.multi_task_query_log_level = 'off';
    END IF;
END
$$;
