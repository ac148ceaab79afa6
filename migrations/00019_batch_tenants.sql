-- +goose Up
-- Batching per tenant (issue 10 meets issue 16): a window, its items and a
-- person's delivery choices belong to a tenant ('' for an untenanted app,
-- which is why these columns are NOT NULL: they are part of the keys, like
-- notification_preferences.tenant_id).

-- A window never mixes tenants: the open-window arbiter leads with the
-- tenant, so the same recipient and key in two tenants are two windows.
ALTER TABLE batch_windows ADD COLUMN tenant_id text NOT NULL DEFAULT '';
DROP INDEX batch_windows_open;
CREATE UNIQUE INDEX batch_windows_open ON batch_windows (inbox, tenant_id, recipient, batch_key) WHERE status = 'open';
-- The items carry their window's tenant (for erasure, export and a
-- distribution by tenant without a join).
ALTER TABLE batch_items ADD COLUMN tenant_id text NOT NULL DEFAULT '';

-- Delivery choices are per tenant, like preferences; a row whose
-- recipient is '*' is the tenant's default (inbox.TenantDefault).
ALTER TABLE notification_delivery ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE notification_delivery DROP CONSTRAINT notification_delivery_pkey;
ALTER TABLE notification_delivery ADD PRIMARY KEY (tenant_id, recipient, channel, domain, action);

-- A collapsed in-app row is found per tenant.
DROP INDEX notifications_collapse;
CREATE INDEX notifications_collapse ON notifications (tenant_id, recipient, domain, subject_id, action, collapse_until)
    WHERE collapse_until IS NOT NULL;

-- +goose Down
DROP INDEX notifications_collapse;
CREATE INDEX notifications_collapse ON notifications (recipient, domain, subject_id, action, collapse_until)
    WHERE collapse_until IS NOT NULL;
ALTER TABLE notification_delivery DROP CONSTRAINT notification_delivery_pkey;
DELETE FROM notification_delivery WHERE tenant_id <> '';
ALTER TABLE notification_delivery ADD PRIMARY KEY (recipient, channel, domain, action);
ALTER TABLE notification_delivery DROP COLUMN tenant_id;
ALTER TABLE batch_items DROP COLUMN tenant_id;
DROP INDEX batch_windows_open;
DELETE FROM batch_windows WHERE tenant_id <> '' AND status = 'open';
CREATE UNIQUE INDEX batch_windows_open ON batch_windows (inbox, recipient, batch_key) WHERE status = 'open';
ALTER TABLE batch_windows DROP COLUMN tenant_id;
