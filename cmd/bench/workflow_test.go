package main

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// TestWorkflow runs the workflow figures at a small scale against the real
// PostgreSQL: each figure is produced.
func TestWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the workflow figures against PostgreSQL")
	}
	// TIDINGS_BENCH_WORKFLOW_SCALE=1 runs the full sample counts.
	scale := 0.05
	if s, err := strconv.ParseFloat(os.Getenv("TIDINGS_BENCH_WORKFLOW_SCALE"), 64); err == nil && s > 0 {
		scale = s
	}
	b := testBench(t, "tidings_test_bench_workflow", scale, 8)
	figs, err := runWorkflow(context.Background(), b)
	checkFigures(t, b, figs, err, 4)
}
