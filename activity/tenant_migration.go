package activity

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// tenantColumnSQL renders, for a tenanted domain, the tenant_id column and
// the domain's indexes re-created to lead with it (%[1]s the events table):
// every tenant-scoped read (a feed, a count, a replay) is then a range of
// one index, and the table can be distributed by tenant_id (see the
// package documentation on Citus). MigrationSQL appends it after the
// CREATE TABLE; UpgradeTenantSQL runs it on an existing table, with the
// column added nullable, filled, then made NOT NULL.
func tenantIndexesSQL(d *Domain) string {
	return fmt.Sprintf(`-- indexes lead with the tenant, but for the two feed indexes, which put
-- it right after the subject (the actor): a page compares the key as a
-- one-element array (see Feed), and PostgreSQL keeps an index's order
-- under an array condition on its first column only
DROP INDEX IF EXISTS %[1]s_subject_feed;
CREATE INDEX %[1]s_subject_feed ON %[1]s (subject_id, tenant_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS %[1]s_actor_feed;
CREATE INDEX %[1]s_actor_feed ON %[1]s (actor_type, actor_id, tenant_id, occurred_at DESC, id DESC);
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

// UpgradeTenantSQL renders the migration that makes an existing untenanted
// events table tenanted (up), and back (down). d is the domain as now
// declared, with Tenant set; subjectTenantColumn is the column of the
// subject table that holds each subject's tenant ("org_id"): every existing
// event takes its subject's tenant. Up adds tenant_id, fills it, makes it
// NOT NULL (which fails, and with goose's transaction changes nothing, if
// an event's subject row is gone or has no tenant: fill those by hand
// first), re-creates the indexes to lead with it, re-creates the throttle
// function, tags pending outbox rows, and adds row-level security when
// the domain asks for it. cmd/tidings-migration -upgrade-tenant writes it.
func UpgradeTenantSQL(d *Domain, subjectTenantColumn string) (up, down string, err error) {
	if !d.Tenanted() {
		return "", "", &DomainError{Domain: d.name, Field: "Tenant", Reason: "is empty: declare the tenant key type the table is upgraded to"}
	}
	if !identRE.MatchString(subjectTenantColumn) {
		return "", "", &DomainError{Domain: d.name, Field: "subject tenant column", Reason: fmt.Sprintf("%q is not a safe SQL identifier: use 1-48 lower-case letters, digits and underscores, starting with a letter", subjectTenantColumn)}
	}
	up = fmt.Sprintf(`ALTER TABLE %[1]s ADD COLUMN IF NOT EXISTS tenant_id %[2]s;
-- every event takes its subject's tenant
UPDATE %[1]s e SET tenant_id = s.%[5]s FROM %[3]s s WHERE s.%[4]s = e.subject_id AND e.tenant_id IS NULL;
ALTER TABLE %[1]s ALTER COLUMN tenant_id SET NOT NULL;
`, d.table, d.tenant, d.subject.Table, d.subject.Key, subjectTenantColumn) +
		tenantIndexesSQL(d) +
		fmt.Sprintf("DROP FUNCTION IF EXISTS %[1]s_record_throttled;\n", d.table) +
		throttleFunctionSQL(d) +
		fmt.Sprintf("-- pending fan-out carries the tenant too\nUPDATE %[1]s o SET tenant_id = e.tenant_id::text FROM %[2]s e WHERE o.domain = '%[3]s' AND o.event_id = e.id AND o.tenant_id IS NULL;\n",
			OutboxTable, d.table, d.name)
	if d.rls {
		up += rlsSQL(d)
	}
	plain := &Domain{name: d.name, table: d.table, subject: d.subject} // the untenanted declaration
	down = fmt.Sprintf(`DROP POLICY IF EXISTS %[1]s_tenant ON %[1]s;
ALTER TABLE %[1]s NO FORCE ROW LEVEL SECURITY;
ALTER TABLE %[1]s DISABLE ROW LEVEL SECURITY;
DROP FUNCTION IF EXISTS %[1]s_record_throttled;
DROP INDEX IF EXISTS %[1]s_subject_feed, %[1]s_actor_feed, %[1]s_action_time, %[1]s_record, %[1]s_correlation, %[1]s_causation, %[1]s_time, %[1]s_retracted;
ALTER TABLE %[1]s DROP COLUMN tenant_id;
CREATE INDEX %[1]s_subject_feed ON %[1]s (subject_id, occurred_at DESC, id DESC);
CREATE INDEX %[1]s_actor_feed ON %[1]s (actor_type, actor_id, occurred_at DESC, id DESC);
CREATE INDEX %[1]s_action_time ON %[1]s (action, occurred_at DESC);
CREATE INDEX %[1]s_record ON %[1]s (record_type, record_id) WHERE record_id IS NOT NULL;
CREATE INDEX %[1]s_correlation ON %[1]s (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX %[1]s_causation ON %[1]s (causation_id) WHERE causation_id IS NOT NULL;
CREATE INDEX %[1]s_time ON %[1]s (occurred_at DESC, id DESC);
CREATE INDEX %[1]s_retracted ON %[1]s (retracted_at DESC) WHERE retracted_at IS NOT NULL;
`, d.table) + throttleFunctionSQL(plain)
	return up, down, nil
}

// GooseUpgradeTenant renders UpgradeTenantSQL as a goose SQL migration file.
func GooseUpgradeTenant(d *Domain, subjectTenantColumn string) (string, error) {
	up, down, err := UpgradeTenantSQL(d, subjectTenantColumn)
	if err != nil {
		return "", err
	}
	return "-- The " + d.name + " domain's events made tenanted (by " + d.subject.Table + "." + subjectTenantColumn + "), rendered by activity.GooseUpgradeTenant.\n" +
		"-- +goose Up\n-- +goose StatementBegin\n" + up + "-- +goose StatementEnd\n\n" +
		"-- +goose Down\n-- +goose StatementBegin\n" + down + "-- +goose StatementEnd\n", nil
}

// SetTenant sets the tidings.tenant setting for the rest of db's
// transaction (set_config(..., true), like SET LOCAL), which the row-level
// security policies of DomainConfig.RowLevelSecurity read: the
// transaction then sees and writes only that tenant's events, whatever its
// queries say. db must be a transaction (on the pool the setting would
// end with its one statement); it returns an error otherwise.
func SetTenant(ctx context.Context, db *gorm.DB, tenant any) error {
	if db == nil {
		return ErrNilDB
	}
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); !inTx {
		return &OptionError{Option: "SetTenant", Reason: "needs a transaction: the setting lasts until its end (db.Transaction(func(tx *gorm.DB) error { activity.SetTenant(ctx, tx, t); ... }))"}
	}
	t := keyString(tenant)
	if tenant == nil || t == "" {
		return &TenantError{Value: tenant, Reason: "is empty"}
	}
	if p := textProblem(t); p != "" || len(t) > 200 {
		return &TenantError{Value: tenant, Reason: "is not usable as a setting: " + p}
	}
	return db.Session(&gorm.Session{NewDB: true, Context: ctx}).Exec("SELECT set_config(?, ?, true)", TenantSetting, t).Error
}
