-- +goose Up
-- The notification center (package web/notifycenter) and rules kept in code
-- (workflow.Rules.Ensure, optimistic locking).

-- Archive: an archived notification leaves the inbox list and the counts
-- but is kept (Unarchive brings it back).
ALTER TABLE notifications ADD COLUMN archived_at timestamptz;

-- seq orders one recipient's notifications in commit order: the live
-- stream's position (its Last-Event-ID). A delivery takes the next number of
-- each recipient from notification_heads and holds that row locked until it
-- commits, so a recipient's numbers commit in order and a stream that saw n
-- has seen everything up to n. Deliveries to different recipients never
-- wait on each other.
ALTER TABLE notifications ADD COLUMN seq bigint;
UPDATE notifications n SET seq = x.rn
  FROM (SELECT id, row_number() OVER (PARTITION BY recipient ORDER BY id) AS rn FROM notifications) x
 WHERE x.id = n.id;
ALTER TABLE notifications ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX notifications_recipient_seq ON notifications (recipient, seq);

CREATE TABLE notification_heads (
    recipient text   PRIMARY KEY,
    seq       bigint NOT NULL
);
INSERT INTO notification_heads (recipient, seq) SELECT recipient, max(seq) FROM notifications GROUP BY recipient;

-- Rules declared in code carry a stable key (Rules.Ensure upserts by it);
-- version counts a rule's saves, for optimistic locking of edits.
ALTER TABLE workflow_rules ADD COLUMN key text CHECK (key <> '');
ALTER TABLE workflow_rules ADD COLUMN version bigint NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX workflow_rules_key ON workflow_rules (key) WHERE key IS NOT NULL;

-- +goose Down
DROP INDEX workflow_rules_key;
ALTER TABLE workflow_rules DROP COLUMN version;
ALTER TABLE workflow_rules DROP COLUMN key;
DROP TABLE notification_heads;
DROP INDEX notifications_recipient_seq;
ALTER TABLE notifications DROP COLUMN seq;
ALTER TABLE notifications DROP COLUMN archived_at;
