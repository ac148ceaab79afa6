-- The demo issue tracker's own tables. The issue domain's events table
-- follows in 00002, rendered by activity.GooseMigration.
-- +goose Up
CREATE TABLE users (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL,
    email        text        NOT NULL UNIQUE,
    slack_handle text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id         bigserial   PRIMARY KEY,
    key        text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE issues (
    id          bigserial   PRIMARY KEY,
    project_id  bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title       text        NOT NULL CHECK (title <> ''),
    body        text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'closed')),
    author_id   bigint      NOT NULL REFERENCES users (id),
    assignee_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issues_project ON issues (project_id, id DESC);

CREATE TABLE comments (
    id         bigserial   PRIMARY KEY,
    issue_id   bigint      NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    author_id  bigint      NOT NULL REFERENCES users (id),
    body       text        NOT NULL CHECK (body <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_issue ON comments (issue_id, id);

CREATE TABLE labels (
    id         bigserial   PRIMARY KEY,
    project_id bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE issue_labels (
    issue_id   bigint      NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    label_id   bigint      NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issue_id, label_id)
);

CREATE TABLE subscribers (
    issue_id   bigint      NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issue_id, user_id)
);

-- +goose Down
DROP TABLE subscribers;
DROP TABLE issue_labels;
DROP TABLE labels;
DROP TABLE comments;
DROP TABLE issues;
DROP TABLE projects;
DROP TABLE users;
