package migrations_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// TestActionRunTenants checks migration 00021 on rows written before it:
// each action run takes the tenant of its run (same event and rule), an
// untenanted run's stays NULL; down drops the column again.
func TestActionRunTenants(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_migrations_action_runs")
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	lib, err := migrations.Library(sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.DownTo(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO workflow_runs (rule_id, rule_name, domain, event_id, event_action, subject_id, status, matched, started_at, tenant_id)
VALUES (1, 'r', 'ticket', 10, 'commented', '1', 'done', true, now(), 'a'), (1, 'r', 'ticket', 11, 'commented', '1', 'done', true, now(), NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO workflow_action_runs (domain, event_id, rule_id, action_index, type, status, started_at)
VALUES ('ticket', 10, 1, 0, 'record_event', 'done', now()), ('ticket', 10, 1, 1, 'send_email', 'sent', now()), ('ticket', 11, 1, 0, 'record_event', 'done', now())`).Error; err != nil {
		t.Fatal(err)
	}
	if err := lib.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.Raw(`SELECT event_id || ':' || action_index || ':' || coalesce(tenant_id, 'none') FROM workflow_action_runs ORDER BY event_id, action_index`).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	if want := []string{"10:0:a", "10:1:a", "11:0:none"}; !slices.Equal(got, want) {
		t.Errorf("action runs after 00021 = %v, want %v", got, want)
	}
	if err := lib.DownTo(ctx, 20); err != nil {
		t.Fatal(err)
	}
	var cols int
	if err := db.Raw(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'workflow_action_runs' AND column_name = 'tenant_id'`).Scan(&cols).Error; err != nil || cols != 0 {
		t.Errorf("after down, workflow_action_runs has %d tenant_id columns (%v)", cols, err)
	}
	if err := lib.Up(ctx); err != nil {
		t.Fatal(err)
	}
}
