-- +goose Up
-- The addresses a person is reached at outside the app (issue 28): web
-- push subscriptions (the endpoint and its keys), mobile push tokens (FCM,
-- APNs) and phone numbers, per tenant (a person is an identity within a
-- tenant). Package inbox/device owns the table: Register, Remove, List,
-- Gone (the provider said the token is gone: 404/410, Unregistered),
-- erasure and export with the person.
--
-- tenant_id is part of the key: '' for an untenanted row (as
-- notification_preferences.tenant_id). kind is the channel the address
-- belongs to ("webpush", "fcm", "apns", "phone"); address its endpoint
-- URL, token or E.164 number. p256dh and auth are a web push
-- subscription's keys (base64url, RFC 8291), '' for other kinds.
CREATE TABLE device_addresses (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL DEFAULT '',
  recipient text NOT NULL,
  kind text NOT NULL,
  address text NOT NULL,
  p256dh text NOT NULL DEFAULT '',
  auth text NOT NULL DEFAULT '',
  label text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- One row per (tenant, kind, address, person); a token-gone answer finds
-- every row of an address (Gone) by its prefix.
CREATE UNIQUE INDEX device_addresses_address ON device_addresses (tenant_id, kind, address, recipient);
-- A person's addresses of a kind, for the inboxes (List, ListFor).
CREATE INDEX device_addresses_recipient ON device_addresses (tenant_id, recipient, kind);

-- +goose Down
DROP TABLE device_addresses;
