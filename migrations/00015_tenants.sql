-- +goose Up
-- Tenants (activity.DomainConfig.Tenant): the tenant of a tenanted domain's
-- event travels with everything derived from it. The columns are nullable:
-- an untenanted domain's rows leave them NULL, and its SQL never names them.

-- The outbox row of a tenanted event carries its tenant (as text, whatever
-- the domain's tenant key type), so a relay or a Citus distribution by
-- tenant can route it without reading the event.
ALTER TABLE activity_outbox ADD COLUMN tenant_id text;

-- Preferences belong to a tenant ('' for an untenanted app, which is why
-- this column alone is NOT NULL: it is part of the key). A row whose
-- recipient is '*' is the tenant's default (inbox.TenantDefault).
ALTER TABLE notification_preferences ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_pkey;
ALTER TABLE notification_preferences ADD PRIMARY KEY (tenant_id, recipient, channel, domain, action);

-- In-app notifications: a recipient's list and counts are read per tenant.
ALTER TABLE notifications ADD COLUMN tenant_id text;
DROP INDEX notifications_recipient_feed;
CREATE INDEX notifications_recipient_feed ON notifications (tenant_id, recipient, created_at DESC, id DESC);
DROP INDEX notifications_unread;
CREATE INDEX notifications_unread ON notifications (tenant_id, recipient) WHERE read_at IS NULL;

-- Email digests: one per tenant and period ('' when untenanted: part of the
-- key); escalations carry their event's tenant.
ALTER TABLE email_digests ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE email_digests DROP CONSTRAINT email_digests_period;
ALTER TABLE email_digests ADD CONSTRAINT email_digests_period UNIQUE (inbox, tenant_id, recipient, period_start);
ALTER TABLE email_escalations ADD COLUMN tenant_id text;

-- Slack threads: per tenant ('' when untenanted: part of the key), so two
-- tenants' subjects with the same key never share a thread.
ALTER TABLE slack_threads ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE slack_threads DROP CONSTRAINT slack_threads_pkey;
ALTER TABLE slack_threads ADD PRIMARY KEY (tenant_id, domain, subject_id, route);

-- Workflow rules belong to a tenant (NULL: app-wide, such as rules declared
-- in code), and so do their runs.
ALTER TABLE workflow_rules ADD COLUMN tenant_id text;
CREATE INDEX workflow_rules_tenant ON workflow_rules (tenant_id, domain, id);
ALTER TABLE workflow_runs ADD COLUMN tenant_id text;
CREATE INDEX workflow_runs_tenant ON workflow_runs (tenant_id, id DESC);

-- The deliveries ledger: the tenant of the delivered event, so support
-- views (inbox.Delivered) list a tenant's deliveries only.
ALTER TABLE inbox_deliveries ADD COLUMN tenant_id text;

-- Webhook subscriptions: a tenant's get its events only (NULL: app-wide).
ALTER TABLE webhook_subscriptions ADD COLUMN tenant_id text;

-- +goose Down
ALTER TABLE webhook_subscriptions DROP COLUMN tenant_id;
ALTER TABLE inbox_deliveries DROP COLUMN tenant_id;
DROP INDEX workflow_runs_tenant;
ALTER TABLE workflow_runs DROP COLUMN tenant_id;
DROP INDEX workflow_rules_tenant;
ALTER TABLE workflow_rules DROP COLUMN tenant_id;
ALTER TABLE slack_threads DROP CONSTRAINT slack_threads_pkey;
DELETE FROM slack_threads WHERE tenant_id <> '';
ALTER TABLE slack_threads ADD PRIMARY KEY (domain, subject_id, route);
ALTER TABLE slack_threads DROP COLUMN tenant_id;
ALTER TABLE email_escalations DROP COLUMN tenant_id;
ALTER TABLE email_digests DROP CONSTRAINT email_digests_period;
DELETE FROM email_digests WHERE tenant_id <> '';
ALTER TABLE email_digests ADD CONSTRAINT email_digests_period UNIQUE (inbox, recipient, period_start);
ALTER TABLE email_digests DROP COLUMN tenant_id;
DROP INDEX notifications_unread;
CREATE INDEX notifications_unread ON notifications (recipient) WHERE read_at IS NULL;
DROP INDEX notifications_recipient_feed;
CREATE INDEX notifications_recipient_feed ON notifications (recipient, created_at DESC, id DESC);
ALTER TABLE notifications DROP COLUMN tenant_id;
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_pkey;
DELETE FROM notification_preferences WHERE tenant_id <> '';
ALTER TABLE notification_preferences ADD PRIMARY KEY (recipient, channel, domain, action);
ALTER TABLE notification_preferences DROP COLUMN tenant_id;
ALTER TABLE activity_outbox DROP COLUMN tenant_id;
