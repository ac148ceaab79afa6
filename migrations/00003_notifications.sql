-- +goose Up
-- In-app notifications (package inbox/notify): one row per recipient and
-- event, with the event's display fields copied so a page renders and
-- groups without loading events.
CREATE TABLE notifications (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient    text        NOT NULL,
    domain       text        NOT NULL,
    event_id     bigint      NOT NULL,
    inbox        text        NOT NULL,
    action       text        NOT NULL,
    subject_id   text        NOT NULL,
    actor_type   text        NOT NULL,
    actor_id     text        NOT NULL,
    actor_label  text        NOT NULL DEFAULT '',
    record_type  text,
    record_id    text,
    record_label text,
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    seen_at      timestamptz,
    read_at      timestamptz,
    CONSTRAINT notifications_once UNIQUE (recipient, domain, event_id)
);
-- one recipient's list, newest first
CREATE INDEX notifications_recipient_feed ON notifications (recipient, created_at DESC, id DESC);
-- unread counts
CREATE INDEX notifications_unread ON notifications (recipient) WHERE read_at IS NULL;

-- +goose Down
DROP TABLE notifications;
