-- Tags and retraction columns of the issue domain's events, rendered by activity.GooseUpgrade.
-- +goose Up
-- +goose StatementBegin
ALTER TABLE issue_events
    ADD COLUMN IF NOT EXISTS tags jsonb,
    ADD COLUMN IF NOT EXISTS retracted_at timestamptz,
    ADD COLUMN IF NOT EXISTS retracted_by text,
    ADD COLUMN IF NOT EXISTS retraction_reason text;
CREATE INDEX IF NOT EXISTS issue_events_tags ON issue_events USING gin (tags jsonb_path_ops) WHERE tags IS NOT NULL;
CREATE INDEX IF NOT EXISTS issue_events_retracted ON issue_events (retracted_at DESC) WHERE retracted_at IS NOT NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX IF EXISTS issue_events_retracted;
DROP INDEX IF EXISTS issue_events_tags;
ALTER TABLE issue_events DROP COLUMN IF EXISTS retraction_reason, DROP COLUMN IF EXISTS retracted_by,
    DROP COLUMN IF EXISTS retracted_at, DROP COLUMN IF EXISTS tags;
-- +goose StatementEnd
