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

-- +goose Down
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
