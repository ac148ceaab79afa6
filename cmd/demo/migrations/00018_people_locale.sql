-- The language each person reads and the zone of their clock: notifications
-- are worded (inbox/locale) and batched (daily at 08:00 their time) by them.
-- +goose Up
ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en';
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

-- +goose Down
ALTER TABLE users DROP COLUMN time_zone;
ALTER TABLE users DROP COLUMN locale;
