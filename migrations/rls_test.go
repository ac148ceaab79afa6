package migrations_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// TestRowLevelSecuritySQL checks that RowLevelSecuritySQL covers every
// table of the library's schema that has a tenant_id column (a table added
// later without a policy fails it), that each policy matches its column
// (NULL or empty for an untenanted row), and that the policies scope reads
// and writes the way the library's filters do, for a role held to them;
// then that down removes them.
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
	listed := migrations.TenantTables()
	var found []string
	for _, c := range cols {
		found = append(found, c.TableName)
		if !slices.Contains(listed, c.TableName) {
			t.Errorf("table %s has a tenant_id column but no row-level security in migrations.RowLevelSecuritySQL", c.TableName)
		}
	}
	for _, l := range listed {
		if !slices.Contains(found, l) {
			t.Errorf("migrations.TenantTables lists %s, which has no tenant_id column", l)
		}
	}
	if len(found) < 13 {
		t.Fatalf("found only %d tables with tenant_id: %v", len(found), found)
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
	for _, c := range cols {
		var st struct {
			Enabled, Forced bool
			Qual, Check     string
		}
		if err := db.Raw(`SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, coalesce(p.qual, '') AS qual, coalesce(p.with_check, '') AS check
FROM pg_class c LEFT JOIN pg_policies p ON p.schemaname = 'public' AND p.tablename = c.relname AND p.policyname = c.relname || '_tenant'
WHERE c.oid = ('public.' || ?)::regclass`, c.TableName).Scan(&st).Error; err != nil {
			t.Fatal(err)
		}
		if !st.Enabled || !st.Forced || st.Qual == "" || st.Qual != st.Check {
			t.Errorf("%s: row-level security %+v, want enabled, forced, and one policy for reads and writes", c.TableName, st)
		}
		// A nullable column's untenanted rows are NULL; a key column's empty.
		if nullable := c.IsNullable == "YES"; nullable != strings.Contains(st.Qual, "IS DISTINCT FROM") {
			t.Errorf("%s: tenant_id nullable = %v, but its policy is %s", c.TableName, nullable, st.Qual)
		}
	}

	// The policies at work, for a role that is neither superuser nor exempt.
	role := pgtest.Name("tidings_rls_migrations")
	if err := db.Exec(`DO $$ BEGIN CREATE ROLE ` + role + ` NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA public TO ` + role + `;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + role + `;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + role + `;
INSERT INTO activity_outbox (domain, event_id, action, subject_id, tenant_id) VALUES ('d', 1, 'a', '1', 'a'), ('d', 2, 'a', '1', 'b'), ('d', 3, 'a', '1', NULL);
INSERT INTO slack_threads (domain, subject_id, route, channel_id, ts, tenant_id) VALUES ('d', '1', '#r', 'C', '1.0', 'a'), ('d', '1', '#r', 'C', '2.0', 'b'), ('d', '1', '#r', 'C', '3.0', '')`).Error; err != nil {
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
		for _, stmt := range []string{
			`INSERT INTO activity_outbox (domain, event_id, action, subject_id, tenant_id) VALUES ('d', 4, 'a', '1', 'b')`,
			`INSERT INTO activity_outbox (domain, event_id, action, subject_id) VALUES ('d', 5, 'a', '1')`,
			`INSERT INTO slack_threads (domain, subject_id, route, channel_id, ts, tenant_id) VALUES ('d', '2', '#r', 'C', '4.0', 'b')`,
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
