-- +goose Up
-- Every domain's events table draws its IDs from this one sequence, so an
-- event ID names one event across all domains.
CREATE SEQUENCE activity_event_id_seq;

-- Fan-out intents: one row per new event, written in the event's own
-- statement, claimed by relays with FOR UPDATE SKIP LOCKED and deleted once
-- every accepting inbox's job is enqueued.
CREATE TABLE activity_outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain       text        NOT NULL,
    event_id     bigint      NOT NULL,
    action       text        NOT NULL,
    subject_id   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    last_error   text
);
CREATE INDEX activity_outbox_available ON activity_outbox (available_at, id);

-- +goose Down
DROP TABLE activity_outbox;
DROP SEQUENCE activity_event_id_seq;
