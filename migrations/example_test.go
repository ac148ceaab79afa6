package migrations_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// The library's migrations, then the app's own (here a domain's events
// table rendered by activity.GooseMigration), each in its version table.
func ExampleNew() {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_migrations_example", "CREATE TABLE invoices (id bigserial PRIMARY KEY)")
	if err != nil {
		panic(err)
	}
	sqlDB, _ := db.DB() // the app's *sql.DB
	defer sqlDB.Close()
	if err := migrations.Up(ctx, sqlDB); err != nil { // applied already by pgtest: nothing to do
		panic(err)
	}
	invoices := activity.MustDomain(activity.DomainConfig{Name: "invoice", Actions: []string{"sent"}})
	app, err := migrations.New(sqlDB, fstest.MapFS{"00001_invoice_events.sql": {Data: []byte(activity.GooseMigration(invoices))}}, "app_migrations")
	if err != nil {
		panic(err)
	}
	if err := app.Up(ctx); err != nil {
		panic(err)
	}
	v, err := app.Version(ctx)
	fmt.Println(v, err)
	// Output: 1 <nil>
}
