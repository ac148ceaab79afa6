package migrations

import (
	"fmt"
	"strings"
)

// tenantSetting is activity.TenantSetting (a test checks they agree).
const tenantSetting = "tidings.tenant"

// tenantTable is a library table with a tenant_id column; keyed when the
// column is NOT NULL and empty for an untenanted row (it is part of a key),
// else it is nullable, NULL for an untenanted row.
type tenantTable struct {
	name  string
	keyed bool
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
		{name: "workflow_rules"},
		{name: "workflow_runs"},
		{name: "batch_windows", keyed: true},
		{name: "batch_items", keyed: true},
	}
}

// TenantTables returns the library's tables that have a tenant_id column:
// those RowLevelSecuritySQL puts under row-level security. A domain's
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
// it) (up), and the SQL that removes it again (down). See the package
// documentation's Row-level security for the roles it asks for.
func RowLevelSecuritySQL() (up, down string) {
	var u, d strings.Builder
	u.WriteString("-- row-level security on the library's tenant tables: a session sees and writes only the\n" +
		"-- tenant its " + tenantSetting + " setting names, or only untenanted rows without one\n")
	for _, t := range tenantTables() {
		cond := fmt.Sprintf("tenant_id IS NOT DISTINCT FROM nullif(current_setting('%s', true), '')", tenantSetting)
		if t.keyed {
			cond = fmt.Sprintf("tenant_id = coalesce(current_setting('%s', true), '')", tenantSetting)
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
