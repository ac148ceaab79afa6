-- +goose Up
-- The deliveries ledger: one row per effect an inbox applied (or is
-- applying) for one event and one recipient. Its key is what makes a retried
-- or re-enqueued job skip what it already did. Rows are written by
-- inbox.Ledger: status 'done' in the same transaction as a database effect
-- (exactly once), or 'sending' -> 'sent' around an external one (at least
-- once, duplicates only when a process dies between sending and marking).
CREATE TABLE inbox_deliveries (
    inbox       text        NOT NULL,
    domain      text        NOT NULL,
    event_id    bigint      NOT NULL,
    recipient   text        NOT NULL DEFAULT '',
    status      text        NOT NULL CHECK (status IN ('done', 'sending', 'sent', 'failed')),
    attempts    integer     NOT NULL DEFAULT 1,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (inbox, domain, event_id, recipient)
);
-- pruning old rows (Ledger.Prune)
CREATE INDEX inbox_deliveries_created ON inbox_deliveries (created_at);

-- Failed deliveries: a job that exhausted its retries, or failed with a
-- permanent error. Re-driving sets redriven_at; failing again clears it.
CREATE TABLE inbox_dead_letters (
    inbox       text        NOT NULL,
    domain      text        NOT NULL,
    event_id    bigint      NOT NULL,
    action      text        NOT NULL DEFAULT '',
    queue       text        NOT NULL,
    task_id     text        NOT NULL,
    attempts    integer     NOT NULL,
    last_error  text        NOT NULL,
    failed_at   timestamptz NOT NULL,
    redriven_at timestamptz,
    redrives    integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (inbox, domain, event_id)
);
CREATE INDEX inbox_dead_letters_open ON inbox_dead_letters (failed_at DESC) WHERE redriven_at IS NULL;

-- Who muted what, per channel ('app', 'email', 'slack', or '*' for all).
-- action '*' mutes every action of the domain. The most specific row wins:
-- a muted = false row for one action overrides a muted '*' row.
CREATE TABLE notification_preferences (
    recipient  text        NOT NULL,
    channel    text        NOT NULL,
    domain     text        NOT NULL,
    action     text        NOT NULL,
    muted      boolean     NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recipient, channel, domain, action)
);

-- +goose Down
DROP TABLE notification_preferences;
DROP TABLE inbox_dead_letters;
DROP TABLE inbox_deliveries;
