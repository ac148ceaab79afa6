package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// TestMain lets the test binary serve as the export group's child process
// (runExportChild re-executes the running binary) and as the cycles
// group's worker (startCyclesWorker) and the cluster fault's victim
// (startClusterVictim), and points the
// figures' Redis (benchRedis) at the test binary's own server.
func TestMain(m *testing.M) {
	if exportChildMain() || cyclesChildMain() || clusterChildMain() {
		return
	}
	if _, err := redistest.Flush(context.Background(), benchRedisDB); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TIDINGS_BENCH_REDIS", redistest.Addr())
	os.Exit(m.Run())
}

func TestExportGroup(t *testing.T) {
	b := testBench(t, "tidings_test_bench_export", 0.005, 4)
	b.dsn = dsnFor("host=127.0.0.1 port=5432 user=postgres sslmode=disable", pgtest.Name("tidings_test_bench_export"))
	figs, err := runExport(t.Context(), b)
	checkFigures(t, b, figs, err, 5)
}
