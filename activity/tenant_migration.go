package activity

import "fmt"

// tenantColumnSQL renders, for a tenanted domain, the tenant_id column and
// the domain's indexes re-created to lead with it (%[1]s the events table):
// every tenant-scoped read (a feed, a count, a replay) is then a range of
// one index, and the table can be distributed by tenant_id (see the
// package documentation on Citus). MigrationSQL appends it after the
// CREATE TABLE; UpgradeTenantSQL runs it on an existing table, with the
// column added nullable, filled, then made NOT NULL.
func tenantIndexesSQL(d *Domain) string {
	return fmt.Sprintf(`-- indexes lead with the tenant
DROP INDEX IF EXISTS %[1]s_subject_feed;
CREATE INDEX %[1]s_subject_feed ON %[1]s (tenant_id, subject_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS %[1]s_actor_feed;
CREATE INDEX %[1]s_actor_feed ON %[1]s (tenant_id, actor_type, actor_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS %[1]s_action_time;
CREATE INDEX %[1]s_action_time ON %[1]s (tenant_id, action, occurred_at DESC);
DROP INDEX IF EXISTS %[1]s_record;
CREATE INDEX %[1]s_record ON %[1]s (tenant_id, record_type, record_id) WHERE record_id IS NOT NULL;
DROP INDEX IF EXISTS %[1]s_correlation;
CREATE INDEX %[1]s_correlation ON %[1]s (tenant_id, correlation_id) WHERE correlation_id IS NOT NULL;
DROP INDEX IF EXISTS %[1]s_causation;
CREATE INDEX %[1]s_causation ON %[1]s (tenant_id, causation_id) WHERE causation_id IS NOT NULL;
DROP INDEX IF EXISTS %[1]s_time;
CREATE INDEX %[1]s_time ON %[1]s (tenant_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS %[1]s_retracted;
CREATE INDEX %[1]s_retracted ON %[1]s (tenant_id, retracted_at DESC) WHERE retracted_at IS NOT NULL;
`, d.table)
}

func tenantColumnSQL(d *Domain) string {
	return fmt.Sprintf("-- the tenant of every event (DomainConfig.Tenant)\nALTER TABLE %[1]s ADD COLUMN tenant_id %[2]s NOT NULL;\n", d.table, d.tenant) +
		tenantIndexesSQL(d)
}

// TenantSetting is the session setting row-level security policies read
// the current tenant from (see DomainConfig.RowLevelSecurity and
// SetTenant).
const TenantSetting = "tidings.tenant"

// rlsSQL renders the row-level security of a tenanted domain's events
// table: enabled and forced (so the table's owner is held to it too), with
// one policy showing, and allowing writes of, only the rows of the tenant
// named by the tidings.tenant setting. Without the setting a session sees
// no row. Processes that serve every tenant (the inbox relay and worker)
// connect as a role with BYPASSRLS.
func rlsSQL(d *Domain) string {
	return fmt.Sprintf(`-- row-level security: a session sees only the tenant its tidings.tenant setting names
ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY;
ALTER TABLE %[1]s FORCE ROW LEVEL SECURITY;
CREATE POLICY %[1]s_tenant ON %[1]s
    USING (tenant_id = nullif(current_setting('%[3]s', true), '')::%[2]s)
    WITH CHECK (tenant_id = nullif(current_setting('%[3]s', true), '')::%[2]s);
`, d.table, d.tenant, TenantSetting)
}

// tenantThrottleFunctionSQL is throttleFunctionSQL for a tenanted domain:
// the function takes the tenant last, locks and looks up within it, and
// writes it on the event and its outbox row.
func tenantThrottleFunctionSQL(d *Domain) string {
	return fmt.Sprintf(`
CREATE FUNCTION %[1]s_record_throttled(
    p_subject %[2]s, p_action text, p_actor_type text, p_actor_id text, p_actor_label text,
    p_record_type text, p_record_id text, p_record_label text, p_extra jsonb, p_now timestamptz,
    p_request_id text, p_correlation_id text, p_causation_domain text, p_causation_id bigint,
    p_depth smallint, p_source text, p_ip inet, p_user_agent text, p_trace_parent text, p_window interval, p_notify boolean,
    p_tenant %[9]s)
RETURNS TABLE (throttled boolean, ev %[1]s)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_row %[1]s;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT EXISTS (SELECT 1 FROM %[7]s WHERE %[8]s = p_subject) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(
        '%[3]s' || chr(31) || p_tenant::text || chr(31) || p_subject::text || chr(31) || p_action || chr(31) || p_actor_type || chr(31) || p_actor_id
        || chr(31) || coalesce(p_record_type, '') || chr(31) || coalesce(p_record_id, ''), 0));
    UPDATE %[1]s e
       SET occurred_at = greatest(e.occurred_at, p_now), updated_at = p_now, repeats = e.repeats + 1
     WHERE e.id = (
        SELECT r.id FROM %[1]s r
         WHERE r.tenant_id = p_tenant AND r.subject_id = p_subject AND r.action = p_action
           AND r.actor_type = p_actor_type AND r.actor_id = p_actor_id
           AND r.record_type IS NOT DISTINCT FROM p_record_type
           AND r.record_id IS NOT DISTINCT FROM p_record_id
           AND r.occurred_at >= p_now - p_window
         ORDER BY r.occurred_at DESC, r.id DESC
         LIMIT 1)
    RETURNING e.* INTO v_row;
    IF FOUND THEN
        RETURN QUERY SELECT true, v_row;
        RETURN;
    END IF;
    INSERT INTO %[1]s (%[4]s, tenant_id)
    VALUES (p_subject, p_action, p_actor_type, p_actor_id, p_actor_label, p_record_type, p_record_id,
            p_record_label, p_extra, p_now, p_now, p_now, p_request_id, p_correlation_id,
            p_causation_domain, p_causation_id, p_depth, p_source, p_ip, p_user_agent, p_trace_parent, p_tenant)
    RETURNING * INTO v_row;
    INSERT INTO %[5]s (domain, event_id, action, subject_id, tenant_id) VALUES ('%[3]s', v_row.id, v_row.action, v_row.subject_id::text, v_row.tenant_id::text);
    IF p_notify THEN
        PERFORM pg_notify('%[6]s', '%[3]s');
    END IF;
    RETURN QUERY SELECT false, v_row;
END
$fn$;
`, d.table, d.subject.KeyType, d.name, insertColumns, OutboxTable, OutboxChannel, d.subject.Table, d.subject.Key, d.tenant)
}
