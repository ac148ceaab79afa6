-- +goose Up
-- A person is an identity within a tenant (issue 24): an erasure reaches
-- one tenant's rows, and its record names that tenant (the
-- activity.TenantText form; NULL for untenanted domains and for an
-- erasure across every tenant, privacy.Config.PersonsAcrossTenants).
-- Records written before this migration stay NULL: their erasure reached
-- every tenant (privacy.Privacy.Reapply erases them again the same way).
ALTER TABLE tidings_erasures ADD COLUMN tenant_id text;
DROP INDEX tidings_erasures_person;
CREATE INDEX tidings_erasures_person ON tidings_erasures (tenant_id, person_type, person_id);

-- +goose Down
DROP INDEX tidings_erasures_person;
CREATE INDEX tidings_erasures_person ON tidings_erasures (person_type, person_id);
ALTER TABLE tidings_erasures DROP COLUMN tenant_id;
