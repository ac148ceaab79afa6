package main

import (
	"context"
	"time"

	"github.com/tidingsdev/tidings/internal/measure"
)

// The statistics live in internal/measure, shared with the peer
// benchmarks (cmd/bench/river): these are their names here.

func median(xs []float64) float64 { return measure.Median(xs) }

func percentile(ds []time.Duration, p float64) time.Duration { return measure.Percentile(ds, p) }

func ms(d time.Duration) float64 { return measure.MS(d) }

func alternate(rounds int, a, b func() (float64, error)) (ma, mb float64, err error) {
	return measure.Alternate(rounds, a, b)
}

func alternateN(rounds int, sides ...func() (float64, error)) ([]float64, error) {
	return measure.AlternateN(rounds, sides...)
}

func throughput(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, worker, i int) error) (float64, error) {
	return measure.Throughput(ctx, workers, d, op)
}
