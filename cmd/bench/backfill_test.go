package main

import (
	"context"
	"testing"
)

// TestBackfill runs the backfill figures at a small scale against the
// real PostgreSQL and Redis: each figure is produced.
func TestBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the backfill figures against PostgreSQL and Redis")
	}
	b := testBench(t, "tidings_test_bench_backfill", 0.005, 16)
	figs, err := runBackfill(context.Background(), b)
	checkFigures(t, b, figs, err, 3)
}
