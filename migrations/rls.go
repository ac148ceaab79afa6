package migrations

import (
	"fmt"
	"strings"
)

// tenantSetting is activity.TenantSetting (a test checks they agree).
const tenantSetting = "tidings.tenant"

// tenantTable is a library table that holds tenants' rows. Most have a
// tenant_id column: keyed when the column is NOT NULL and empty for an
// untenanted row (it is part of a key), else it is nullable, NULL for an
// untenanted row. A child table without one (parent set) holds the rows of
// the tenant of its parent row, which its foreign key (fk, to the
// parent's id) names: its policy shows a row when the parent's policy
// shows the parent.
type tenantTable struct {
	name  string
	keyed bool
	// parent and fk: the parent table and the child's column that
	// references the parent's id, for a child without a tenant_id.
	parent, fk string
}

func tenantTables() []tenantTable {
	return []tenantTable{
		{name: "activity_outbox"},
		{name: "inbox_deliveries"},
		{name: "notifications"},
		{name: "notification_heads", keyed: true},
		{name: "notification_preferences", keyed: true},
		{name: "notification_delivery", keyed: true},
		{name: "email_digests", keyed: true},
		{name: "email_escalations"},
		{name: "slack_threads", keyed: true},
		{name: "webhook_subscriptions"},
		{name: "device_addresses", keyed: true},
		{name: "workflow_rules"},
		{name: "workflow_runs"},
		{name: "workflow_action_runs"},
		{name: "batch_windows", keyed: true},
		{name: "batch_items", keyed: true},
		{name: "email_digest_items", parent: "email_digests", fk: "digest_id"},
	}
}

// operatorTables are the library's tables that only the processes serving
// every tenant use, and that no tenant's role may read or write: the
// erasure log (tidings_erasures: who was erased, by whom, and why), the
// dead letters (inbox_dead_letters: failed jobs and their errors, of every
// tenant) and the deliveries in flight (inbox_pending: written by the
// relay, deleted by the worker, counted by erasure). RowLevelSecuritySQL
// puts them under row-level security with no policy, which PostgreSQL
// reads as "no row": only superusers and BYPASSRLS roles (the relay, the
// worker, retention, privacy) see them.
func operatorTables() []string {
	return []string{"tidings_erasures", "inbox_dead_letters", "inbox_pending"}
}

// OperatorTables returns the library's tables that RowLevelSecuritySQL
// keeps from every role held to row-level security (no policy: no row),
// for the processes that serve every tenant alone (see operatorTables).
func OperatorTables() []string { return operatorTables() }

// TenantTables returns the library's tables that hold tenants' rows: every
// one with a tenant_id column, and the child tables of one (by foreign
// key) that have none, whose rows are their parent row's tenant's. They
// are those RowLevelSecuritySQL puts under a tenant policy. A domain's
// events table is the domain's own (activity.DomainConfig.RowLevelSecurity).
func TenantTables() []string {
	var out []string
	for _, t := range tenantTables() {
		out = append(out, t.name)
	}
	return out
}

// RowLevelSecuritySQL returns the SQL that enables and forces row-level
// security on every table of TenantTables, with one policy each, named
// <table>_tenant, showing and allowing writes of only the rows of the
// tenant the tidings.tenant setting names (only untenanted rows without
// it; a child table's rows by its parent row's), and on every table of
// OperatorTables, with no policy, so that no role held to it sees or
// writes a row of them (up), and the SQL that removes it again (down).
// See the package documentation's Row-level security for the roles it
// asks for.
func RowLevelSecuritySQL() (up, down string) {
	var u, d strings.Builder
	u.WriteString("-- row-level security on the library's tenant tables: a session sees and writes only the\n" +
		"-- tenant its " + tenantSetting + " setting names, or only untenanted rows without one\n")
	for _, t := range tenantTables() {
		cond := fmt.Sprintf("tenant_id IS NOT DISTINCT FROM nullif(current_setting('%s', true), '')", tenantSetting)
		if t.keyed {
			cond = fmt.Sprintf("tenant_id = coalesce(current_setting('%s', true), '')", tenantSetting)
		}
		if t.parent != "" {
			// The parent's policy holds the subquery: the row shows when
			// its parent does.
			cond = fmt.Sprintf("EXISTS (SELECT 1 FROM %[1]s p WHERE p.id = %[2]s.%[3]s)", t.parent, t.name, t.fk)
		}
		fmt.Fprintf(&u, `ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY;
ALTER TABLE %[1]s FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS %[1]s_tenant ON %[1]s;
CREATE POLICY %[1]s_tenant ON %[1]s USING (%[2]s) WITH CHECK (%[2]s);
`, t.name, cond)
		fmt.Fprintf(&d, `DROP POLICY IF EXISTS %[1]s_tenant ON %[1]s;
ALTER TABLE %[1]s NO FORCE ROW LEVEL SECURITY;
ALTER TABLE %[1]s DISABLE ROW LEVEL SECURITY;
`, t.name)
	}
	u.WriteString("-- the operator's tables: no policy, so no row for a role held to row-level security\n")
	for _, t := range operatorTables() {
		fmt.Fprintf(&u, `ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY;
ALTER TABLE %[1]s FORCE ROW LEVEL SECURITY;
`, t)
		fmt.Fprintf(&d, `ALTER TABLE %[1]s NO FORCE ROW LEVEL SECURITY;
ALTER TABLE %[1]s DISABLE ROW LEVEL SECURITY;
`, t)
	}
	return u.String(), d.String()
}

// GooseRowLevelSecurity renders RowLevelSecuritySQL as a goose SQL
// migration file, for an app's migrations folder (after the library's
// migrations have run: see cmd/tidings-migration -library-rls).
func GooseRowLevelSecurity() string {
	up, down := RowLevelSecuritySQL()
	return "-- Row-level security on the tidings library's tenant tables, rendered by migrations.GooseRowLevelSecurity.\n" +
		"-- Run the relay, the worker, sweepers and retention as a role with BYPASSRLS; request handlers set\n" +
		"-- the tenant per transaction with activity.SetTenant.\n" +
		"-- +goose Up\n-- +goose StatementBegin\n" + up + "-- +goose StatementEnd\n\n" +
		"-- +goose Down\n-- +goose StatementBegin\n" + down + "-- +goose StatementEnd\n"
}
