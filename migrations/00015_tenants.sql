-- +goose Up
-- Tenants (activity.DomainConfig.Tenant): the tenant of a tenanted domain's
-- event travels with everything derived from it. The columns are nullable:
-- an untenanted domain's rows leave them NULL, and its SQL never names them.

-- The outbox row of a tenanted event carries its tenant (as text, whatever
-- the domain's tenant key type), so a relay or a Citus distribution by
-- tenant can route it without reading the event.
ALTER TABLE activity_outbox ADD COLUMN tenant_id text;

-- +goose Down
ALTER TABLE activity_outbox DROP COLUMN tenant_id;
