-- The demo's history tools (history.go): the archive inbox's copy of events
-- (filled live and by backfills), and the CSV imports of comments.
-- +goose Up
CREATE TABLE event_archive (
    event_id    bigint      PRIMARY KEY,
    action      text        NOT NULL,
    subject_id  text        NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE comment_imports (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL,
    correlation_id text        NOT NULL UNIQUE,
    rows           integer     NOT NULL,
    created_by     bigint      NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    retracted_at   timestamptz,
    retracted_by   bigint,
    reason         text
);

-- +goose Down
DROP TABLE comment_imports;
DROP TABLE event_archive;
