package main

import (
	"context"
	"testing"
)

// TestLifecycle runs the lifecycle figures on a small data set against the
// real PostgreSQL: each figure is produced, retention drops 12 partitions
// and deletes the same events in batches (the group checks both).
func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the lifecycle figures against PostgreSQL")
	}
	b := testBench(t, "tidings_test_bench_lifecycle", 0.02, 8)
	b.lifecycleEvents = 24_000
	figs, err := runLifecycle(context.Background(), b)
	checkFigures(t, b, figs, err, 15)
}
