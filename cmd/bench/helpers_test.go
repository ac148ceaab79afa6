package main

import (
	"bytes"
	"context"
	"database/sql"
	"log"
	"strings"
	"sync"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/scratchdb"
)

// testServer is the PostgreSQL server of the bench's tests.
const testServer = "host=127.0.0.1 port=5432 user=postgres sslmode=disable"

// testTemplate is the database every testBench database is copied from:
// created once per test binary as createDatabase leaves one (the
// library's migrations, the bench's schema and fixtures), then closed.
// Copying it (CREATE DATABASE ... TEMPLATE) takes about half a second
// where running the migrations again took 2-10 s a test.
var testTemplate = sync.OnceValues(func() (string, error) {
	name := pgtest.Name("tidings_test_bench_template")
	db, err := createDatabase(context.Background(), testServer, name, newIssueDomain(), 1)
	if err != nil {
		return "", err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return "", err
	}
	return name, sqlDB.Close() // a template is copied only with no one connected
})

// testBench makes a bench at a small scale on a fresh test database of
// its own (name, suffixed by pgtest; a copy of testTemplate), with one
// round per figure.
func testBench(t *testing.T, name string, scale float64, pool int) *bench {
	t.Helper()
	var progress bytes.Buffer
	b := &bench{issues: newIssueDomain(), scale: scale, rounds: 1, poolSize: pool, log: log.New(&progress, "", 0)}
	name = pgtest.Name(name)
	b.dsn = dsnFor(testServer, name)
	copyTemplate(t, name)
	db, err := openGorm(b.dsn, b.poolSize)
	if err != nil {
		t.Fatal(err)
	}
	b.db = db
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
		}
		// Each test's pool goes with it: one package's tests left open
		// would hold up to pool idle connections each, and the server's
		// 100 run out by the last test.
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return b
}

// copyTemplate makes database name a copy of testTemplate, marked as a
// scratch database (scratchdb: an earlier run's copy is dropped, any other
// database of that name is left alone and fails the test).
func copyTemplate(t *testing.T, name string) {
	t.Helper()
	template, err := testTemplate()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsnFor(testServer, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := scratchdb.Recreate(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP DATABASE " + name, "CREATE DATABASE " + name + " TEMPLATE " + template, "COMMENT ON DATABASE " + name + " IS '" + scratchdb.Marker + "'"} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// checkFigures fails the test on err or on a count other than want, logs
// the table and notes, and fails each figure without a positive value on
// both sides.
func checkFigures(t *testing.T, b *bench, figs []figure, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeText(&out, figs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s\n%s", out.String(), strings.Join(b.notes, "\n"))
	if len(figs) != want {
		t.Fatalf("%d figures, want %d", len(figs), want)
	}
	for _, f := range figs {
		if !(f.Ours > 0) || !(f.Baseline > 0) {
			t.Errorf("figure %q: ours %v, baseline %v", f.Name, f.Ours, f.Baseline)
		}
	}
}
