package main

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/migrations"
)

// A demo database made before organisations upgrades in place: 00019 puts
// everyone and everything in one organisation, 00020 (GooseUpgradeTenant)
// gives each event its issue's organisation, and an event of an issue
// deleted earlier (its history is kept) gets the first organisation too;
// both roll back.
func TestOrganisationsUpgradeExistingDatabase(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_demo_upgrade")
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if err := migrations.Up(ctx, sqlDB); err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrations.New(sqlDB, sub, MigrationsTable)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Provider().UpTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if err := db.Exec(q, args...).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO users (id, name, email) VALUES (1, 'Old Timer', 'old@example.com')`)
	exec(`INSERT INTO projects (id, key, name) VALUES (1, 'OLD', 'Old project')`)
	exec(`INSERT INTO issues (id, project_id, title, body, status, author_id) VALUES (1, 1, 'Old issue', '', 'open', 1)`)
	for _, tbl := range []string{"users", "projects", "issues"} { // the rows above took id 1 by hand
		exec(`SELECT setval(pg_get_serial_sequence(?, 'id'), 1)`, tbl)
	}
	exec(`INSERT INTO issue_events (subject_id, action, actor_type, actor_id) VALUES (1, 'issue_opened', 'users', '1'), (99, 'issue_opened', 'users', '1')`)
	if err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var orgs []Organisation
	if err := db.Find(&orgs).Error; err != nil || len(orgs) != 1 {
		t.Fatalf("organisations after the upgrade: %v %v, want one", orgs, err)
	}
	var is Issue
	var u User
	if err := db.Take(&is, 1).Error; err != nil || is.OrgID != orgs[0].ID {
		t.Fatalf("the old issue's organisation: %d %v, want %d", is.OrgID, err, orgs[0].ID)
	}
	if err := db.Take(&u, 1).Error; err != nil || u.OrgID != orgs[0].ID {
		t.Fatalf("the old user's organisation: %d %v, want %d", u.OrgID, err, orgs[0].ID)
	}
	var tenants []int64
	if err := db.Raw(`SELECT tenant_id FROM issue_events ORDER BY subject_id`).Scan(&tenants).Error; err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 2 || tenants[0] != orgs[0].ID || tenants[1] != orgs[0].ID {
		t.Fatalf("event tenants after the upgrade: %v, want both %d (the deleted issue's event too)", tenants, orgs[0].ID)
	}
	if err := m.DownTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	var cols int64
	db.Raw(`SELECT count(*) FROM information_schema.columns WHERE table_name IN ('issue_events', 'issues', 'users') AND column_name IN ('tenant_id', 'org_id')`).Scan(&cols)
	if cols != 0 {
		t.Fatalf("%d tenant/org columns left after rolling back", cols)
	}
	if err := m.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	// The demo starting on it seeds the second organisation, once.
	for range 2 {
		app, err := NewApp(ctx, Config{DSN: pgtest.DSN("tidings_test_demo_upgrade"), RedisAddr: redistest.Addr(), RedisDB: 6,
			StaleEvery: time.Hour, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		app.Close()
	}
	var names []string
	db.Model(&Organisation{}).Order("id").Pluck("name", &names)
	var globex int64
	db.Model(&Issue{}).Where("org_id = (SELECT id FROM organisations WHERE name = 'Globex')").Count(&globex)
	if len(names) != 2 || names[1] != "Globex" || globex == 0 {
		t.Fatalf("after starting the demo: organisations %v, %d Globex issues; want [Acme Globex] and its issues", names, globex)
	}
}
