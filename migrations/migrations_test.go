package migrations_test

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// TestUpDownUp runs the library's migrations and a domain's rendered
// migration up, down and up again, and checks the tables each time.
func TestUpDownUp(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_migrations", "CREATE TABLE issues (id bigserial PRIMARY KEY)")
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	dom := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"opened"}})
	app, err := migrations.New(sqlDB, fstest.MapFS{"00001_issue_events.sql": {Data: []byte(activity.GooseMigration(dom))}}, "app_migrations")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := migrations.Library(sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(table string) bool {
		var n int
		db.Raw("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = ?", table).Scan(&n)
		return n == 1
	}
	check := func(step string, want bool) {
		t.Helper()
		for _, table := range []string{"activity_outbox", "issue_events"} {
			if exists(table) != want {
				t.Fatalf("%s: table %s exists = %v, want %v", step, table, !want, want)
			}
		}
	}
	// pgtest.Create applied the library's migrations already.
	if err := app.Up(ctx); err != nil {
		t.Fatal(err)
	}
	check("up", true)
	if err := app.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := lib.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	check("down", false)
	if v, _ := lib.Version(ctx); v != 0 {
		t.Fatalf("library version after down = %d", v)
	}
	// Up again, from two migrators at once: the session lock serialises them.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := migrations.Up(ctx, sqlDB); err != nil {
				errs <- err
				return
			}
			errs <- app.Up(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	check("up again", true)
	// The rendered domain works after the round trip.
	db.Exec("INSERT INTO issues DEFAULT VALUES")
	if _, err := dom.RecordEvent(ctx, db, 1, "opened", activity.Actor(activity.System("system")), activity.ThrottleWithin(1)); err != nil {
		t.Fatalf("record after up/down/up: %v", err)
	}
}
