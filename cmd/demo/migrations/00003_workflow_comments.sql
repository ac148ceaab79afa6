-- Comments written by workflow rules have no author.
-- +goose Up
ALTER TABLE comments ALTER COLUMN author_id DROP NOT NULL;

-- +goose Down
DELETE FROM comments WHERE author_id IS NULL;
ALTER TABLE comments ALTER COLUMN author_id SET NOT NULL;
