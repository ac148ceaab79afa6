package main

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// TestFanout runs the fan-out figures at a small scale against the real
// PostgreSQL and Redis: each figure is produced.
func TestFanout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fan-out figures against PostgreSQL and Redis")
	}
	// TIDINGS_BENCH_FANOUT_SCALE=1 runs the sizes (minutes).
	scale, rounds := 0.05, 1
	if s, err := strconv.ParseFloat(os.Getenv("TIDINGS_BENCH_FANOUT_SCALE"), 64); err == nil && s > 0 {
		scale, rounds = s, 3
	}
	b := testBench(t, "tidings_test_bench_fanout", scale, 32)
	b.rounds = rounds
	figs, err := runFanout(context.Background(), b)
	// latency p50+p99, p99 at 2,000/s, p99 saturated, the idle curve (CPU and p50 per setting), throughput, RSS
	checkFigures(t, b, figs, err, 6+2*len(idleCurve()))
}
