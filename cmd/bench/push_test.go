package main

import (
	"context"
	"testing"
)

// TestPush runs the push figures at a small scale against the real
// PostgreSQL and Redis: each figure is produced.
func TestPush(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the push figures against PostgreSQL and Redis")
	}
	b := testBench(t, "tidings_test_bench_push", 0.02, 8)
	figs, err := runPush(context.Background(), b)
	checkFigures(t, b, figs, err, 3)
}
