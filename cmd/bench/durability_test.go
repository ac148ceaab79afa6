package main

import (
	"bytes"
	"context"
	"log"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

// TestDurability runs the durability-cost figures at a small scale: each
// figure is produced, with a baseline.
func TestDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the durability figures against PostgreSQL and Redis")
	}
	ctx := context.Background()
	var progress bytes.Buffer
	b := &bench{issues: newIssueDomain(), scale: 0.05, rounds: 1, poolSize: 32, log: log.New(&progress, "", 0)}
	db, err := createDatabase(ctx, "host=127.0.0.1 port=5432 user=postgres sslmode=disable", pgtest.Name("tidings_test_bench_durability"), b.issues, b.poolSize)
	if err != nil {
		t.Fatal(err)
	}
	b.db = db
	if err := flushBenchRedis(ctx); err != nil {
		t.Fatal(err)
	}
	figs, err := durabilityFigures(ctx, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := writeText(&out, figs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s\n%s", out.String(), strings.Join(b.notes, "\n"))
	if len(figs) != 3 {
		t.Fatalf("%d figures, want 3", len(figs))
	}
	for _, f := range figs {
		if !(f.Ours > 0) || !(f.Baseline > 0) {
			t.Errorf("figure %q: ours %v, baseline %v", f.Name, f.Ours, f.Baseline)
		}
	}
}
