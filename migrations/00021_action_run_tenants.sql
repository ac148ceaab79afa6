-- +goose Up
-- Action runs belong to the tenant of their event, as runs do
-- (workflow_runs.tenant_id, 00015): their results and errors carry what
-- the actions did (names, mail subjects, Slack messages), so row-level
-- security must be able to keep each tenant to its own (issue 24; see
-- migrations.RowLevelSecuritySQL). NULL for an untenanted event.
ALTER TABLE workflow_action_runs ADD COLUMN tenant_id text;
-- Existing rows take the tenant of their run (same event, same rule).
UPDATE workflow_action_runs a SET tenant_id = r.tenant_id
  FROM workflow_runs r
 WHERE r.domain = a.domain AND r.event_id = a.event_id AND r.rule_id = a.rule_id AND r.tenant_id IS NOT NULL;

-- +goose Down
ALTER TABLE workflow_action_runs DROP COLUMN tenant_id;
