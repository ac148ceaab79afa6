package measure

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method: the smallest value at least p% of the samples are
// less than or equal to.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s)) + 0.999999)
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Alternate runs a and b rounds times each and returns the median result of
// each. Rounds alternate which side goes first (A B, B A, A B, ...), so
// drift over the run (a checkpoint, autovacuum, a warming cache, a growing
// table) falls on both sides alike.
func Alternate(rounds int, a, b func() (float64, error)) (ma, mb float64, err error) {
	m, err := AlternateN(rounds, a, b)
	if err != nil {
		return 0, 0, err
	}
	return m[0], m[1], nil
}

// AlternateN runs each side rounds times, rotating which side goes first
// each round, and returns each side's median.
func AlternateN(rounds int, sides ...func() (float64, error)) ([]float64, error) {
	results := make([][]float64, len(sides))
	for i := range rounds {
		for k := range sides {
			j := (i + k) % len(sides) // each side takes each place in turn
			x, err := sides[j]()
			if err != nil {
				return nil, err
			}
			results[j] = append(results[j], x)
		}
	}
	out := make([]float64, len(sides))
	for k, r := range results {
		out[k] = Median(r)
	}
	return out, nil
}

// Throughput runs op on workers goroutines until d has passed and returns
// completed operations per second. op receives its worker number and the
// worker's iteration count; the first error stops every worker and is
// returned.
func Throughput(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, worker, i int) error) (float64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		done atomic.Int64
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for w := range workers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if err := op(ctx, w, i); err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return float64(done.Load()) / elapsed.Seconds(), nil
}
