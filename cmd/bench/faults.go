package main

import "context"

// faultsGroup measures how fast deliveries resume after a fault: a sink
// (an SMTP server) that comes back (faults_sink.go), a Redis that lost its
// data (faults_redis.go), a Redis Cluster master that died with deliveries
// active on it (faults_cluster.go). Each figure is timed against its floor
// measured in the same run.
func faultsGroup() group {
	return group{
		name:  "faults",
		about: "time to resume after a fault: an SMTP server back after an outage (p50 and max over several runs) against a direct send once it answers and the probe interval; Redis flushed with 1,000 deliveries waiting against the same deliveries from a healthy Redis and the 5 s bound; a Redis Cluster master killed with a worker holding 20 deliveries active on it against the cluster's failover, the 5 s bound and asynq's recoverer",
		run: func(ctx context.Context, b *bench) ([]figure, error) {
			if err := flushBenchRedis(ctx); err != nil {
				return nil, err
			}
			figs, err := sinkFaultFigures(ctx, b)
			if err != nil {
				return nil, err
			}
			loss, err := redisLossFigures(ctx, b)
			if err != nil {
				return nil, err
			}
			cluster, err := clusterFaultFigures(ctx, b)
			if err != nil {
				return nil, err
			}
			return append(append(figs, loss...), cluster...), nil
		},
	}
}
