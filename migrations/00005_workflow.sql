-- +goose Up
-- The workflow engine (package workflow): rules users configure at run
-- time, a version counter per domain that invalidates engines' rule caches,
-- and the run log, which is also what keeps each action of a rule to one
-- run per event.

-- workflow_rules: "when <triggered_on> happens in <domain> (to one subject,
-- in one tenant, or anywhere), and <conditions> hold, run <actions>".
-- conditions and actions are checked by workflow.Rules before every save.
CREATE TABLE workflow_rules (
    id                      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                    text        NOT NULL CHECK (name <> ''),
    domain                  text        NOT NULL,
    scope_kind              text        NOT NULL CHECK (scope_kind IN ('subject', 'domain', 'tenant')),
    scope_id                text        NOT NULL DEFAULT '',
    triggered_on            text        NOT NULL,
    conditions              jsonb       NOT NULL DEFAULT '[]',
    actions                 jsonb       NOT NULL,
    -- false (the default): events recorded by workflow actions do not
    -- trigger the rule (a reply does not answer itself).
    allow_workflow_triggers boolean     NOT NULL DEFAULT false,
    enabled                 boolean     NOT NULL DEFAULT true,
    created_by              text        NOT NULL,
    updated_by              text        NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflow_rules_scope CHECK ((scope_kind = 'domain') = (scope_id = ''))
);
-- the engine's load: the enabled rules of one (domain, action)
CREATE INDEX workflow_rules_trigger ON workflow_rules (domain, triggered_on) WHERE enabled;
-- a rule editor's lists: a domain's rules, one subject's or tenant's rules
CREATE INDEX workflow_rules_scope ON workflow_rules (domain, scope_kind, scope_id, id);

-- workflow_versions: bumped in the transaction of every rule change, so an
-- engine that reads a version it has not seen reloads its cached rules.
CREATE TABLE workflow_versions (
    domain  text   PRIMARY KEY,
    version bigint NOT NULL
);

-- workflow_runs: one row per (rule, event) the engine looked at: whether
-- the rule matched and why, and how its actions went.
--   no_match | running -> done | failed (retried) | stopped (causation depth)
CREATE TABLE workflow_runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id      bigint      NOT NULL, -- no foreign key: the log outlives deleted rules
    rule_name    text        NOT NULL,
    domain       text        NOT NULL,
    event_id     bigint      NOT NULL,
    event_action text        NOT NULL,
    subject_id   text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('no_match', 'running', 'done', 'failed', 'stopped')),
    matched      boolean     NOT NULL,
    explanation  text        NOT NULL DEFAULT '',
    error        text,
    attempts     integer     NOT NULL DEFAULT 1,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    -- one run per rule and event; also what happened to one event
    CONSTRAINT workflow_runs_once UNIQUE (domain, event_id, rule_id)
);
-- a rule's history, newest first
CREATE INDEX workflow_runs_rule ON workflow_runs (rule_id, id DESC);

-- workflow_action_runs: one row per action of a matched rule for an event.
-- Its key is what keeps an action to one run: a database action commits
-- its row ('done') with its effects; an external one is claimed
-- ('sending') before and marked ('sent') after.
--   done | sending -> sent | failed (retried) | stopped (causation depth)
CREATE TABLE workflow_action_runs (
    domain       text        NOT NULL,
    event_id     bigint      NOT NULL,
    rule_id      bigint      NOT NULL,
    action_index integer     NOT NULL,
    type         text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('done', 'sending', 'sent', 'failed', 'stopped')),
    result       jsonb,
    error        text,
    attempts     integer     NOT NULL DEFAULT 1,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (domain, event_id, rule_id, action_index)
);

-- +goose Down
DROP TABLE workflow_action_runs;
DROP TABLE workflow_runs;
DROP TABLE workflow_versions;
DROP TABLE workflow_rules;
