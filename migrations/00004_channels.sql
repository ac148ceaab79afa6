-- +goose Up
-- Channel state of the email and Slack inboxes (packages inbox/email and
-- inbox/slack).

-- slack_threads remembers, per subject and routed channel, the Slack message
-- that opened the subject's thread, so later events reply in it.
CREATE TABLE slack_threads (
    domain      text        NOT NULL,
    subject_id  text        NOT NULL,
    route       text        NOT NULL, -- the channel as routed: "#issues" or "C0123ABC"
    channel_id  text        NOT NULL, -- the channel ID Slack answered for the parent
    ts          text        NOT NULL, -- the parent message's ts
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, subject_id, route)
);

-- email_digests: one mail per (inbox, recipient, period). A digest is 'open'
-- while events may join it; Flush seals it ('sending') once due_at passed,
-- after which no event joins it (later ones open the next period), so the
-- mail lists a fixed set of events however often it is retried.
--   open -> sending -> sent | dropped (every event muted since) | retry -> sending ... | failed
CREATE TABLE email_digests (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbox           text        NOT NULL,
    recipient       text        NOT NULL, -- the app's key for the person
    period_start    timestamptz NOT NULL,
    due_at          timestamptz NOT NULL, -- the period's end
    recipient_email text        NOT NULL,
    recipient_name  text        NOT NULL DEFAULT '',
    time_zone       text        NOT NULL DEFAULT 'UTC',
    status          text        NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'sending', 'retry', 'sent', 'dropped', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    claimed_at      timestamptz,
    message_id      text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CONSTRAINT email_digests_period UNIQUE (inbox, recipient, period_start)
);
-- Flush's claim: due digests, oldest first
CREATE INDEX email_digests_due ON email_digests (inbox, due_at) WHERE status IN ('open', 'retry', 'sending');

-- email_digest_items: the events of a digest, each at most once per digest
-- and, through the deliveries ledger, in at most one digest per recipient.
-- The event is kept as a JSON snapshot, so Flush renders without loading it.
CREATE TABLE email_digest_items (
    digest_id  bigint      NOT NULL REFERENCES email_digests (id) ON DELETE CASCADE,
    domain     text        NOT NULL,
    event_id   bigint      NOT NULL,
    event      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (digest_id, domain, event_id)
);

-- email_escalations: a mail that goes out at due_at unless the recipient read
-- the event's in-app notification (table notifications) by then.
--   pending -> sending -> sent | dropped (read, or muted since) | retry -> sending ... | failed
CREATE TABLE email_escalations (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbox           text        NOT NULL,
    domain          text        NOT NULL,
    event_id        bigint      NOT NULL,
    recipient       text        NOT NULL,
    recipient_email text        NOT NULL,
    recipient_name  text        NOT NULL DEFAULT '',
    event           jsonb       NOT NULL,
    due_at          timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'retry', 'sent', 'dropped', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    claimed_at      timestamptz,
    message_id      text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT email_escalations_once UNIQUE (inbox, domain, event_id, recipient)
);
CREATE INDEX email_escalations_due ON email_escalations (inbox, due_at) WHERE status IN ('pending', 'retry', 'sending');

-- +goose Down
DROP TABLE email_escalations;
DROP TABLE email_digest_items;
DROP TABLE email_digests;
DROP TABLE slack_threads;
