package main

import (
	"context"
	"testing"
)

// TestBatch runs the batch figures at a small scale against the real
// PostgreSQL: each figure is produced.
func TestBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the batch figures against PostgreSQL")
	}
	b := testBench(t, "tidings_test_bench_batch", 0.02, 8)
	figs, err := runBatch(context.Background(), b)
	checkFigures(t, b, figs, err, 3)
}
