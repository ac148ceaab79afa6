-- +goose Up
-- Deliveries handed to asynq and not yet done: one row per (event, inbox)
-- job, written by the relay in the statement that deletes the event's
-- outbox row, deleted by the worker (in batches) once the job succeeded or
-- became a dead letter. While a row exists, PostgreSQL still knows the
-- delivery: the relay's sweeper checks, from check_at on, that its job is
-- still in Redis, and enqueues it again (same task ID) if Redis lost it
-- (flushed, restarted without persistence, failed over to a lagging
-- replica). The deliveries ledger keeps a re-run from applying an effect
-- twice.
CREATE TABLE inbox_pending (
    domain    text        NOT NULL,
    event_id  bigint      NOT NULL,
    inbox     text        NOT NULL,
    action    text        NOT NULL,
    queue     text        NOT NULL,
    checks    integer     NOT NULL DEFAULT 0,
    check_at  timestamptz NOT NULL,
    -- retry windows (inbox.Policy.RetryWindow): the first counted failure
    -- and how many failures counted
    failed_since timestamptz,
    failures     integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (domain, event_id, inbox)
);
-- the sweeper's scan of rows due for a check
CREATE INDEX inbox_pending_check ON inbox_pending (check_at);

-- Per-recipient outcomes: 'refused' is a recipient the sink refused for
-- good (a 550): recorded once, never tried again for that delivery.
ALTER TABLE inbox_deliveries DROP CONSTRAINT inbox_deliveries_status_check;
ALTER TABLE inbox_deliveries ADD CONSTRAINT inbox_deliveries_status_check
    CHECK (status IN ('done', 'sending', 'sent', 'failed', 'refused'));

-- Addresses no send may go to, per channel: hard bounces, complaints,
-- manual entries (inbox.Suppress). Every channel inbox checks it before
-- sending.
CREATE TABLE inbox_suppressions (
    channel    text        NOT NULL,
    address    text        NOT NULL,
    reason     text        NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'manual', 'unsubscribe')),
    source     text        NOT NULL DEFAULT '',
    detail     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, address)
);

-- A dead letter whose job later succeeded (asynq's "Run now" on the
-- archived task, a re-drive): the worker sets delivered_at, and the letter
-- leaves the open list.
ALTER TABLE inbox_dead_letters ADD COLUMN delivered_at timestamptz;

-- +goose Down
ALTER TABLE inbox_dead_letters DROP COLUMN delivered_at;
DROP TABLE inbox_suppressions;
DELETE FROM inbox_deliveries WHERE status = 'refused';
ALTER TABLE inbox_deliveries DROP CONSTRAINT inbox_deliveries_status_check;
ALTER TABLE inbox_deliveries ADD CONSTRAINT inbox_deliveries_status_check
    CHECK (status IN ('done', 'sending', 'sent', 'failed'));
DROP TABLE inbox_pending;
