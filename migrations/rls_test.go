package migrations_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// TestRowLevelSecuritySQL checks that RowLevelSecuritySQL covers every
// table of the library's schema that holds tenants' rows: every one with a
// tenant_id column, and every child of one (a foreign key to it), found in
// the catalog, so a table added later without a policy fails it. Each is
// under a tenant policy (TenantTables), or is an operator's table
// (OperatorTables) under row-level security with no policy. It checks
// that each policy matches its column (NULL or empty for an untenanted
// row), and that the policies scope reads and writes the way the
// library's filters do, for a role held to them, child rows by their
// parent's, and keep the operator's tables from it whatever tenant it
// names; then that down removes them.
func TestRowLevelSecuritySQL(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_migrations_rls")
	if err != nil {
		t.Fatal(err)
	}
	var cols []struct {
		TableName  string
		IsNullable string
	}
	if err := db.Raw(`SELECT table_name, is_nullable FROM information_schema.columns
WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`).Scan(&cols).Error; err != nil {
		t.Fatal(err)
	}
	tenanted := map[string]bool{}
	for _, c := range cols {
		tenanted[c.TableName] = true
	}
	// The children of a table that holds tenants' rows hold them too.
	var fks []struct{ Child, Parent string }
	if err := db.Raw(`SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent
FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace ORDER BY 1, 2`).Scan(&fks).Error; err != nil {
		t.Fatal(err)
	}
	var children []string
	for grew := true; grew; {
		grew = false
		for _, fk := range fks {
			if tenanted[fk.Parent] && !tenanted[fk.Child] {
				tenanted[fk.Child], grew = true, true
				children = append(children, fk.Child)
			}
		}
	}
	if !slices.Contains(children, "email_digest_items") {
		t.Errorf("found the child tables %v, want email_digest_items among them", children)
	}
	listed, operator := migrations.TenantTables(), migrations.OperatorTables()
	var found []string
	for table := range tenanted {
		found = append(found, table)
		if !slices.Contains(listed, table) && !slices.Contains(operator, table) {
			t.Errorf("table %s holds tenants' rows but has no row-level security in migrations.RowLevelSecuritySQL: list it in TenantTables (a policy), or OperatorTables (no role held to row-level security sees it)", table)
		}
	}
	for _, l := range listed {
		if !tenanted[l] {
			t.Errorf("migrations.TenantTables lists %s, which has no tenant_id column and is no child of a table with one", l)
		}
	}
	for _, o := range operator {
		var exists bool
		if err := db.Raw(`SELECT to_regclass('public.' || ?) IS NOT NULL`, o).Scan(&exists).Error; err != nil || !exists {
			t.Errorf("migrations.OperatorTables lists %s, which does not exist (%v)", o, err)
		}
	}
	if len(found) < 16 {
		t.Fatalf("found only %d tables with tenants' rows: %v", len(found), found)
	}
	up, down := migrations.RowLevelSecuritySQL()
	if !strings.Contains(up, "current_setting('"+activity.TenantSetting+"', true)") {
		t.Fatalf("the policies do not read activity.TenantSetting %q", activity.TenantSetting)
	}
	if err := db.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(up).Error; err != nil { // twice: a re-run is harmless
		t.Fatal(err)
	}
	nullable := map[string]bool{}
	for _, c := range cols {
		nullable[c.TableName] = c.IsNullable == "YES"
	}
	for _, table := range append(append([]string{}, listed...), operator...) {
		var st struct {
			Enabled, Forced bool
			Qual, Check     string
			Policies        int
		}
		if err := db.Raw(`SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, coalesce(p.qual, '') AS qual, coalesce(p.with_check, '') AS check,
    (SELECT count(*) FROM pg_policies a WHERE a.schemaname = 'public' AND a.tablename = c.relname) AS policies
FROM pg_class c LEFT JOIN pg_policies p ON p.schemaname = 'public' AND p.tablename = c.relname AND p.policyname = c.relname || '_tenant'
WHERE c.oid = ('public.' || ?)::regclass`, table).Scan(&st).Error; err != nil {
			t.Fatal(err)
		}
		if slices.Contains(operator, table) {
			if !st.Enabled || !st.Forced || st.Policies != 0 {
				t.Errorf("operator table %s: row-level security %+v, want enabled, forced, and no policy", table, st)
			}
			continue
		}
		if !st.Enabled || !st.Forced || st.Qual == "" || st.Qual != st.Check || st.Policies != 1 {
			t.Errorf("%s: row-level security %+v, want enabled, forced, and one policy for reads and writes", table, st)
		}
		if _, ok := nullable[table]; !ok {
			if !strings.Contains(st.Qual, "EXISTS") {
				t.Errorf("child table %s: policy %s, want its parent's rows' (EXISTS)", table, st.Qual)
			}
			continue
		}
		// A nullable column's untenanted rows are NULL; a key column's empty.
		if nullable[table] != strings.Contains(st.Qual, "IS DISTINCT FROM") {
			t.Errorf("%s: tenant_id nullable = %v, but its policy is %s", table, nullable[table], st.Qual)
		}
	}

	// The policies at work, for a role that is neither superuser nor exempt.
	role := pgtest.Name("tidings_rls_migrations")
	if err := db.Exec(`DO $$ BEGIN CREATE ROLE ` + role + ` NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA public TO ` + role + `;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + role + `;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + role + `;
INSERT INTO activity_outbox (domain, event_id, action, subject_id, tenant_id) VALUES ('d', 1, 'a', '1', 'a'), ('d', 2, 'a', '1', 'b'), ('d', 3, 'a', '1', NULL);
INSERT INTO slack_threads (domain, subject_id, route, channel_id, ts, tenant_id) VALUES ('d', '1', '#r', 'C', '1.0', 'a'), ('d', '1', '#r', 'C', '2.0', 'b'), ('d', '1', '#r', 'C', '3.0', '');
INSERT INTO email_digests (inbox, recipient, period_start, due_at, recipient_email, tenant_id) VALUES ('m', '7', now(), now(), 'a@example.com', 'a'), ('m', '7', now(), now(), 'b@example.com', 'b');
INSERT INTO email_digest_items (digest_id, domain, event_id, event) SELECT id, 'd', 1, '{}' FROM email_digests;
INSERT INTO workflow_action_runs (domain, event_id, rule_id, action_index, type, status, started_at, tenant_id) VALUES ('d', 1, 1, 0, 't', 'done', now(), 'a'), ('d', 2, 1, 0, 't', 'done', now(), 'b');
INSERT INTO tidings_erasures (person_type, person_id, requested_by, started_at, finished_at) VALUES ('users', '9', 'admin', now(), now());
INSERT INTO inbox_dead_letters (inbox, domain, event_id, queue, task_id, attempts, last_error, failed_at) VALUES ('i', 'd', 1, 'q', 't', 1, 'x', now());
INSERT INTO inbox_pending (domain, event_id, inbox, action, queue, check_at) VALUES ('d', 1, 'i', 'a', 'q', now())`).Error; err != nil {
		t.Fatal(err)
	}
	var bDigest int64 // b's digest, whose items a may not add to
	if err := db.Raw(`SELECT id FROM email_digests WHERE tenant_id = 'b'`).Scan(&bDigest).Error; err != nil {
		t.Fatal(err)
	}
	seen := func(tx *gorm.DB) (outbox, threads []string) {
		t.Helper()
		if err := tx.Raw(`SELECT coalesce(tenant_id, 'none') FROM activity_outbox ORDER BY 1`).Scan(&outbox).Error; err != nil {
			t.Fatal(err)
		}
		if err := tx.Raw(`SELECT CASE tenant_id WHEN '' THEN 'none' ELSE tenant_id END FROM slack_threads ORDER BY 1`).Scan(&threads).Error; err != nil {
			t.Fatal(err)
		}
		return outbox, threads
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET LOCAL ROLE " + role).Error; err != nil {
			return err
		}
		if o, s := seen(tx); !slices.Equal(o, []string{"none"}) || !slices.Equal(s, []string{"none"}) {
			t.Errorf("without a tenant the role sees outbox %v, threads %v; want the untenanted rows only", o, s)
		}
		if err := activity.SetTenant(ctx, tx, "a"); err != nil {
			return err
		}
		if o, s := seen(tx); !slices.Equal(o, []string{"a"}) || !slices.Equal(s, []string{"a"}) {
			t.Errorf("as tenant a the role sees outbox %v, threads %v; want a's only", o, s)
		}
		if n := tx.Exec(`UPDATE slack_threads SET ts = 'x'`).RowsAffected; n != 1 {
			t.Errorf("as tenant a an UPDATE of every thread changed %d rows, want a's 1", n)
		}
		var items, actions []string
		if err := tx.Raw(`SELECT d.recipient_email FROM email_digest_items i JOIN email_digests d ON d.id = i.digest_id`).Scan(&items).Error; err != nil {
			t.Fatal(err)
		}
		if err := tx.Raw(`SELECT tenant_id FROM workflow_action_runs`).Scan(&actions).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(items, []string{"a@example.com"}) || !slices.Equal(actions, []string{"a"}) {
			t.Errorf("as tenant a the role sees digest items of %v and action runs of %v; want a's only", items, actions)
		}
		if n := tx.Exec(`DELETE FROM email_digest_items`).RowsAffected; n != 1 {
			t.Errorf("as tenant a a DELETE of every digest item removed %d rows, want a's 1", n)
		}
		for _, table := range operator {
			var n int64
			if err := tx.Raw(`SELECT count(*) FROM ` + table).Scan(&n).Error; err != nil || n != 0 {
				t.Errorf("as tenant a the role sees %d rows of the operator's %s (%v), want none", n, table, err)
			}
			if n := tx.Exec(`DELETE FROM ` + table).RowsAffected; n != 0 {
				t.Errorf("as tenant a the role deleted %d rows of the operator's %s, want none", n, table)
			}
		}
		for _, stmt := range []string{
			`INSERT INTO activity_outbox (domain, event_id, action, subject_id, tenant_id) VALUES ('d', 4, 'a', '1', 'b')`,
			`INSERT INTO activity_outbox (domain, event_id, action, subject_id) VALUES ('d', 5, 'a', '1')`,
			`INSERT INTO slack_threads (domain, subject_id, route, channel_id, ts, tenant_id) VALUES ('d', '2', '#r', 'C', '4.0', 'b')`,
			fmt.Sprintf(`INSERT INTO email_digest_items (digest_id, domain, event_id, event) VALUES (%d, 'd', 2, '{}')`, bDigest),
			`INSERT INTO workflow_action_runs (domain, event_id, rule_id, action_index, type, status, started_at, tenant_id) VALUES ('d', 3, 1, 0, 't', 'done', now(), 'b')`,
			`INSERT INTO workflow_action_runs (domain, event_id, rule_id, action_index, type, status, started_at) VALUES ('d', 4, 1, 0, 't', 'done', now())`,
			`INSERT INTO tidings_erasures (person_type, person_id, requested_by, started_at, finished_at) VALUES ('users', '8', 'a', now(), now())`,
			`INSERT INTO inbox_dead_letters (inbox, domain, event_id, queue, task_id, attempts, last_error, failed_at) VALUES ('i', 'd', 2, 'q', 't', 1, 'x', now())`,
			`INSERT INTO inbox_pending (domain, event_id, inbox, action, queue, check_at) VALUES ('d', 2, 'i', 'a', 'q', now())`,
		} {
			if err := tx.Transaction(func(sp *gorm.DB) error { return sp.Exec(stmt).Error }); err == nil {
				t.Errorf("as tenant a, %s: no error, want the policy's refusal", stmt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if err := db.Exec(down).Error; err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := db.Raw(`SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = 'public'::regnamespace
UNION SELECT tablename FROM pg_policies WHERE schemaname = 'public'`).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("after down, row-level security is left on %v", left)
	}
}
