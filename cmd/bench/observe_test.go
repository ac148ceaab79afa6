package main

import (
	"context"
	"testing"
)

// TestObserve runs the observe figures at a small scale against the real
// PostgreSQL and Redis: each figure is produced.
func TestObserve(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the observe figures against PostgreSQL and Redis")
	}
	b := testBench(t, "tidings_test_bench_observe", 0.05, 16)
	figs, err := runObserve(context.Background(), b)
	checkFigures(t, b, figs, err, 7)
}
