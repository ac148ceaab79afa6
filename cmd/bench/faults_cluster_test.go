package main

import (
	"context"
	"errors"
	"testing"

	"github.com/tidingsdev/tidings/internal/rediscluster"
)

// TestClusterFaultFigures runs the cluster fault once at a small scale
// (3 deliveries stranded, one run, no recoverer run): a worker process and
// the master of its queue are killed, and every stranded delivery comes
// back through the surviving relay's rescue (the run fails when the relay
// hands back any other number of jobs).
func TestClusterFaultFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 6-node Redis Cluster and a worker process")
	}
	b := testBench(t, "tidings_test_bench_faults_cluster", 0.02, 4)
	figs, err := clusterFaultFigures(context.Background(), b)
	if errors.Is(err, rediscluster.ErrNotInstalled) {
		t.Skip(err)
	}
	checkFigures(t, b, figs, err, 2)
}
