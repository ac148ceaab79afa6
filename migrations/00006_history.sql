-- +goose Up
-- Backfills (inbox.Backfiller): past events handed to one inbox, resumable
-- from last_id (the highest event ID handed over), up to max_id (the
-- highest matching ID when the backfill was created; later events reach
-- the inbox through the live fan-out).
CREATE TABLE inbox_backfills (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbox          text        NOT NULL,
    domain         text        NOT NULL,
    query          jsonb       NOT NULL,
    status         text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    total          bigint      NOT NULL,
    done           bigint      NOT NULL DEFAULT 0,
    duplicates     bigint      NOT NULL DEFAULT 0,
    max_id         bigint      NOT NULL,
    last_id        bigint      NOT NULL DEFAULT 0,
    rate           double precision NOT NULL,
    created_by     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    run_started_at timestamptz,
    run_start_done bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    last_error     text
);

-- Projections (package projection): one row per projection, whose lock
-- orders live applications (FOR SHARE) against rebuilds and reverts (FOR
-- UPDATE). generation moves on with each rebuild; position is the rebuild's
-- replay checkpoint, per domain.
CREATE TABLE projections (
    name         text        PRIMARY KEY,
    generation   bigint      NOT NULL DEFAULT 1,
    status       text        NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'rebuilding')),
    position     jsonb       NOT NULL DEFAULT '{}',
    replayed     bigint      NOT NULL DEFAULT 0,
    rebuilds     integer     NOT NULL DEFAULT 0,
    rebuilt_at   timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The events a projection's current generation applied, each once: written
-- in the same transaction as the projection's own state.
CREATE TABLE projection_applied (
    name       text   NOT NULL,
    generation bigint NOT NULL,
    domain     text   NOT NULL,
    event_id   bigint NOT NULL,
    PRIMARY KEY (name, generation, domain, event_id)
);

-- Domain-wide webhook subscriptions (inbox/webhook.Subscriptions): every
-- event of a domain (or of some actions) posted as a CloudEvent to url,
-- signed with secret, which is stored sealed (webhook.Keyring).
CREATE TABLE webhook_subscriptions (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain     text        NOT NULL,
    actions    text[]      NOT NULL DEFAULT '{}',
    url        text        NOT NULL,
    secret     text        NOT NULL,
    enabled    boolean     NOT NULL DEFAULT true,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_domain ON webhook_subscriptions (domain) WHERE enabled;

-- +goose Down
DROP TABLE webhook_subscriptions;
DROP TABLE projection_applied;
DROP TABLE projections;
DROP TABLE inbox_backfills;
