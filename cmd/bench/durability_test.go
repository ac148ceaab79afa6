package main

import (
	"context"
	"testing"
)

// TestDurability runs the durability-cost figures at a small scale: each
// figure is produced, with a baseline.
func TestDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the durability figures against PostgreSQL and Redis")
	}
	ctx := context.Background()
	b := testBench(t, "tidings_test_bench_durability", 0.05, 32)
	if err := flushBenchRedis(ctx); err != nil {
		t.Fatal(err)
	}
	figs, err := durabilityFigures(ctx, b)
	checkFigures(t, b, figs, err, 3)
}
