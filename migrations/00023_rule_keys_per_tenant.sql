-- +goose Up
-- A rule's key (Rules.Ensure, Rule.Key) names it within its tenant, as
-- everything of a tenant is (issue 24): two tenants may each keep a rule
-- "welcome", and an Ensure in one tenant never finds, nor rewrites, the
-- other's. Untenanted rules (tenant_id NULL) share one namespace.
DROP INDEX workflow_rules_key;
CREATE UNIQUE INDEX workflow_rules_key ON workflow_rules (key, tenant_id) NULLS NOT DISTINCT WHERE key IS NOT NULL;

-- +goose Down
-- Fails (a unique violation) while two tenants' rules share a key.
DROP INDEX workflow_rules_key;
CREATE UNIQUE INDEX workflow_rules_key ON workflow_rules (key) WHERE key IS NOT NULL;
