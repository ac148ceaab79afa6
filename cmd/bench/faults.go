package main

import "context"

// faultsGroup measures how fast deliveries resume after a fault: a sink
// (an SMTP server) that comes back (faults_sink.go), a Redis that lost its
// data (faults_redis.go). Each figure is timed
// against its floor measured in the same run.
func faultsGroup() group {
	return group{
		name:  "faults",
		about: "time to resume after a fault: an SMTP server back after an outage (p50 and max over several runs) against a direct send once it answers and the probe interval; Redis flushed with 1,000 deliveries waiting against the same deliveries from a healthy Redis and the 5 s bound",
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
			return append(figs, loss...), nil
		},
	}
}
