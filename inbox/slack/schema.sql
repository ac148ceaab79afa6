-- slack_threads remembers, per subject and routed channel, the Slack message
-- that opened the subject's thread, so later events reply in it.
CREATE TABLE IF NOT EXISTS slack_threads (
    domain      text        NOT NULL,
    subject_id  text        NOT NULL,
    route       text        NOT NULL, -- the channel as routed: "#issues" or "C0123ABC"
    channel_id  text        NOT NULL, -- the channel ID Slack answered for the parent
    ts          text        NOT NULL, -- the parent message's ts
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, subject_id, route)
);
