-- +goose Up
-- In-app notification streams per tenant (issue 10): a recipient key that
-- exists in two tenants (tenant-local user ids) is two people, so each
-- (tenant, recipient) numbers its notifications (Seq) on its own head.
-- A shared head let one tenant's stream position, and the gaps between
-- its numbers, tell how many notifications the other tenant's person got.

-- The head's tenant: '' for an untenanted stream (part of the key, like
-- notification_preferences.tenant_id).
ALTER TABLE notification_heads ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE notification_heads DROP CONSTRAINT notification_heads_pkey;
ALTER TABLE notification_heads ADD PRIMARY KEY (tenant_id, recipient);
-- Existing rows stay as the untenanted heads; each tenant with
-- notifications of a recipient gets its own head, re-derived from its
-- notifications' max(seq) and never below the old shared head, so no
-- number a client already saw (its Last-Event-ID, or a head sent in the
-- counts) is given again in any of the recipient's streams.
INSERT INTO notification_heads (tenant_id, recipient, seq)
SELECT n.tenant_id, n.recipient, greatest(max(n.seq), coalesce(max(h.seq), 0))
  FROM notifications n
  LEFT JOIN notification_heads h ON h.tenant_id = '' AND h.recipient = n.recipient
 WHERE n.tenant_id IS NOT NULL AND n.tenant_id <> ''
 GROUP BY n.tenant_id, n.recipient;
INSERT INTO notification_heads AS h (tenant_id, recipient, seq)
SELECT '', recipient, max(seq) FROM notifications WHERE tenant_id IS NULL OR tenant_id = '' GROUP BY recipient
ON CONFLICT (tenant_id, recipient) DO UPDATE SET seq = greatest(h.seq, excluded.seq);

-- A Seq is unique per (recipient, tenant) stream; recipient and seq stay
-- first, so a stream's reads (recipient = ? AND seq > ?) still use it.
DROP INDEX notifications_recipient_seq;
CREATE UNIQUE INDEX notifications_recipient_seq ON notifications (recipient, seq, tenant_id) NULLS NOT DISTINCT;

-- +goose Down
-- Back to one stream per recipient. This fails (and changes nothing) when
-- two tenants' streams of one recipient now hold the same Seq: their
-- numbers cannot share one counter without renumbering, which would break
-- the positions clients hold. Delete or renumber those notifications
-- first, or stay on this version.
-- +goose StatementBegin
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM notifications GROUP BY recipient, seq HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'tidings migration 00020 down: notifications of one recipient in two tenants share a Seq; one stream per recipient cannot hold both'
      USING HINT = 'delete or renumber the colliding notifications (SELECT recipient, seq FROM notifications GROUP BY 1, 2 HAVING count(*) > 1) first';
  END IF;
END $$;
-- +goose StatementEnd
DROP INDEX notifications_recipient_seq;
CREATE UNIQUE INDEX notifications_recipient_seq ON notifications (recipient, seq);
-- A recipient's one head is the highest of its streams' heads.
ALTER TABLE notification_heads DROP CONSTRAINT notification_heads_pkey;
DELETE FROM notification_heads h
 WHERE EXISTS (SELECT 1 FROM notification_heads g
                WHERE g.recipient = h.recipient AND (g.seq > h.seq OR (g.seq = h.seq AND g.tenant_id < h.tenant_id)));
ALTER TABLE notification_heads ADD PRIMARY KEY (recipient);
ALTER TABLE notification_heads DROP COLUMN tenant_id;
