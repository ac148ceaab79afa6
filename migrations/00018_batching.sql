-- +goose Up
-- Batching (package inbox/batch), each person's delivery choice, and
-- collapsed in-app notifications (package inbox/notify).

-- batch_windows: one window per (inbox, recipient, batch key) is 'open' at a
-- time. It opens on its first event and closes at due_at (a fixed window
-- from the first event, or a time on the recipient's clock); reaching the
-- item cap seals it early ('full', due at once). Flush claims a due window
-- ('sending') under FOR UPDATE SKIP LOCKED, so no item joins it after, and
-- hands all its items to the channel in one delivery.
--   open -> full -> sending -> sent | dropped (every item muted since) | retry -> sending ... | failed
--   open ------------^
CREATE TABLE batch_windows (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbox           text        NOT NULL,
    recipient       text        NOT NULL,
    batch_key       text        NOT NULL,
    schedule        text        NOT NULL, -- inbox.Schedule.String()
    time_zone       text        NOT NULL DEFAULT 'UTC',
    locale          text        NOT NULL DEFAULT '',
    profile         jsonb,                -- what the channel needs to deliver (an address), as of the last item
    opened_at       timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    item_count      integer     NOT NULL DEFAULT 0,
    status          text        NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'full', 'sending', 'retry', 'sent', 'dropped', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    claimed_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
-- at most one open window per (inbox, recipient, key): the upsert's arbiter
CREATE UNIQUE INDEX batch_windows_open ON batch_windows (inbox, recipient, batch_key) WHERE status = 'open';
-- Flush's claim and the sweep: due windows, oldest first
CREATE INDEX batch_windows_due ON batch_windows (inbox, due_at) WHERE status IN ('open', 'full', 'retry', 'sending');

-- batch_items: the events of a window, as JSON snapshots (Flush renders
-- without loading them); through the deliveries ledger an event is in at
-- most one window per (inbox, recipient).
CREATE TABLE batch_items (
    window_id  bigint      NOT NULL REFERENCES batch_windows (id) ON DELETE CASCADE,
    domain     text        NOT NULL,
    event_id   bigint      NOT NULL,
    event      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (window_id, domain, event_id)
);

-- notification_delivery: a person's delivery choice for a kind on a channel
-- (inbox.Defaults.SetChoice): 'immediate' or a schedule ("daily@08:00").
-- It sits next to notification_preferences, which keeps deciding whether a
-- kind is delivered at all (a mute is "off"); this table only says how.
CREATE TABLE notification_delivery (
    recipient  text        NOT NULL,
    channel    text        NOT NULL,
    domain     text        NOT NULL,
    action     text        NOT NULL, -- an action or '*'
    delivery   text        NOT NULL CHECK (delivery <> '' AND length(delivery) <= 40),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recipient, channel, domain, action)
);

-- Collapsed in-app notifications: a batched row stands for item_count events
-- of one (subject, action) until collapse_until; actors lists the latest
-- distinct actors ([{"Type","ID","Label"}], newest first, at most 50).
ALTER TABLE notifications ADD COLUMN item_count integer NOT NULL DEFAULT 1;
ALTER TABLE notifications ADD COLUMN actors jsonb;
ALTER TABLE notifications ADD COLUMN collapse_until timestamptz;
CREATE INDEX notifications_collapse ON notifications (recipient, domain, subject_id, action, collapse_until)
    WHERE collapse_until IS NOT NULL;

-- +goose Down
DROP INDEX notifications_collapse;
ALTER TABLE notifications DROP COLUMN collapse_until;
ALTER TABLE notifications DROP COLUMN actors;
ALTER TABLE notifications DROP COLUMN item_count;
DROP TABLE notification_delivery;
DROP TABLE batch_items;
DROP TABLE batch_windows;
