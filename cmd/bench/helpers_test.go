package main

import (
	"bytes"
	"context"
	"log"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

// testBench makes a bench at a small scale on a fresh test database of
// its own (name, suffixed by pgtest), with one round per figure.
func testBench(t *testing.T, name string, scale float64, pool int) *bench {
	t.Helper()
	var progress bytes.Buffer
	b := &bench{issues: newIssueDomain(), scale: scale, rounds: 1, poolSize: pool, log: log.New(&progress, "", 0)}
	const base = "host=127.0.0.1 port=5432 user=postgres sslmode=disable"
	b.dsn = dsnFor(base, pgtest.Name(name))
	db, err := createDatabase(context.Background(), base, pgtest.Name(name), b.issues, b.poolSize)
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
