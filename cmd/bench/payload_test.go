package main

import (
	"context"
	"testing"
)

// TestPayload runs the payload figures at a small scale: each figure is
// produced, with a baseline.
func TestPayload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the payload figures against PostgreSQL and Redis")
	}
	ctx := context.Background()
	b := testBench(t, "tidings_test_bench_payload", 0.05, 32)
	if err := flushBenchRedis(ctx); err != nil {
		t.Fatal(err)
	}
	figs, err := payloadFigures(ctx, b)
	// throughput, bytes per job, CPU per delivery, p50 + p99, p99 saturated
	checkFigures(t, b, figs, err, 6)
}
