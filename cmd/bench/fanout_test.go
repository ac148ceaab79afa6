package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

// TestFanout runs the fan-out figures at a small scale against the real
// PostgreSQL and Redis: each figure is produced.
func TestFanout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fan-out figures against PostgreSQL and Redis")
	}
	ctx := context.Background()
	var progress bytes.Buffer
	// TIDINGS_BENCH_FANOUT_SCALE=1 runs the issue's sizes (minutes).
	scale, rounds := 0.05, 1
	if s, err := strconv.ParseFloat(os.Getenv("TIDINGS_BENCH_FANOUT_SCALE"), 64); err == nil && s > 0 {
		scale, rounds = s, 3
	}
	b := &bench{issues: newIssueDomain(), scale: scale, rounds: rounds, poolSize: 32, log: log.New(&progress, "", 0)}
	db, err := createDatabase(ctx, "host=127.0.0.1 port=5432 user=postgres sslmode=disable", pgtest.Name("tidings_test_bench_fanout"), b.issues, b.poolSize)
	if err != nil {
		t.Fatal(err)
	}
	b.db = db
	figs, err := runFanout(ctx, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := writeText(&out, figs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s\n%s", out.String(), strings.Join(b.notes, "\n"))
	if len(figs) != 9 { // latency p50+p99, p99 at 2,000/s, p99 saturated, 3 idle CPU, throughput, RSS
		t.Fatalf("%d figures, want 9", len(figs))
	}
	for _, f := range figs {
		if !(f.Ours > 0) || !(f.Baseline > 0) {
			t.Errorf("figure %q: ours %v, baseline %v", f.Name, f.Ours, f.Baseline)
		}
	}
}
