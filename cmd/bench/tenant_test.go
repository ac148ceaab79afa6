package main

import (
	"context"
	"testing"
)

func TestTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("fills two events tables")
	}
	b := testBench(t, "tidings_test_bench_tenant", 0.02, 32)
	figs, err := runTenant(context.Background(), b)
	checkFigures(t, b, figs, err, 5)
}
