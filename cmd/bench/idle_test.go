package main

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// TestIdleCurve draws the idle-CPU curve alone (check intervals against
// idle CPU and p50), at a small scale unless TIDINGS_BENCH_IDLE_SCALE says
// otherwise (1: 5s windows, about 2 minutes).
func TestIdleCurve(t *testing.T) {
	if testing.Short() {
		t.Skip("measures idle workers against PostgreSQL and Redis")
	}
	scale := 0.05
	if s, err := strconv.ParseFloat(os.Getenv("TIDINGS_BENCH_IDLE_SCALE"), 64); err == nil && s > 0 {
		scale = s
	}
	b := testBench(t, "tidings_test_bench_idle", scale, 32)
	figs, err := idleCPU(context.Background(), b)
	checkFigures(t, b, figs, err, 2*len(idleCurve()))
}
