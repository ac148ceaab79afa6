package main

import (
	"context"
	"fmt"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// channelPeer is one local peer of the channel groups (webpush, sms,
// mobilepush): how long it holds each answer and how many requests each
// side keeps in flight.
type channelPeer struct {
	name    string
	latency time.Duration
	workers int
}

// channelPeers are the channel groups' peers:
//
//   - at once, 8 in flight: the library's cost laid bare (a loopback
//     peer is far cheaper than any provider), where a raw POST costs
//     tens of microseconds and a delivery's database work is most of
//     the time;
//   - 20 ms, 64 in flight: a provider close by, with many jobs at once;
//   - 50 ms and 100 ms, 20 in flight: the answer times of FCM, APNs,
//     Twilio and the browsers' push services over the internet (tens to
//     hundreds of milliseconds), at a worker's default concurrency
//     (inbox.Config.Concurrency, 20 jobs at once).
var channelPeers = []channelPeer{
	{"answers at once, 8 in flight", 0, 8},
	{"answers in 20 ms, 64 in flight", 20 * time.Millisecond, 64},
	{"answers in 50 ms, 20 in flight", 50 * time.Millisecond, 20},
	{"answers in 100 ms, 20 in flight", 100 * time.Millisecond, 20},
}

// round is how long one side runs per round against p: at least a
// second for a slow peer, so a round holds enough answers (200 at 100
// ms and 20 in flight) for its rate to mean something.
func (p channelPeer) round(b *bench) time.Duration {
	if p.latency >= 50*time.Millisecond {
		return b.duration(roundLength, time.Second)
	}
	return b.duration(roundLength, 500*time.Millisecond)
}

// cpuMeter runs one side of a channel figure and keeps, per round, the
// CPU each operation took: the bench process's (which holds the local
// peer too: its share is in every side's figure) and its database's
// PostgreSQL backends', and the process's heap allocations per
// operation, which the machine's load does not change.
type cpuMeter struct {
	process, postgres []float64 // µs per operation, one per round
	allocs            []float64 // objects per operation, one per round
}

// objectsAllocated is how many heap objects the process has allocated
// so far.
func objectsAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// side returns a side for alternateN: op run by workers goroutines for d,
// its rate returned and its CPU per operation kept.
func (m *cpuMeter) side(ctx context.Context, b *bench, workers int, d time.Duration, op func(ctx context.Context, worker, i int) error) func() (float64, error) {
	return func() (float64, error) {
		var n atomic.Int64
		start, err := takeDBCPU(ctx, b)
		if err != nil {
			return 0, err
		}
		objects := objectsAllocated()
		rate, err := throughput(ctx, workers, d, func(ctx context.Context, w, i int) error {
			if err := op(ctx, w, i); err != nil {
				return err
			}
			n.Add(1)
			return nil
		})
		if err != nil {
			return 0, err
		}
		allocated := objectsAllocated() - objects
		used, err := start.since(ctx, b)
		if err != nil {
			return 0, err
		}
		if ops := float64(n.Load()); ops > 0 {
			m.process = append(m.process, used.process*1e6/ops)
			m.postgres = append(m.postgres, used.postgres*1e6/ops)
			m.allocs = append(m.allocs, float64(allocated)/ops)
		}
		return rate, nil
	}
}

// String is the medians, for a note: "bench process X µs, PostgreSQL Y
// µs, Z allocations".
func (m *cpuMeter) String() string {
	return fmt.Sprintf("bench process %.0f µs, PostgreSQL %.0f µs, %.0f allocations", median(m.process), median(m.postgres), median(m.allocs))
}

// perPeer is a channel group's run: figures for each service, at each of
// channelPeers, in that order (a group of one service gives "").
func perPeer(services []string, figures func(ctx context.Context, b *bench, service string, p channelPeer) ([]figure, error)) func(context.Context, *bench) ([]figure, error) {
	return func(ctx context.Context, b *bench) ([]figure, error) {
		var figs []figure
		for _, service := range services {
			for _, p := range channelPeers {
				f, err := figures(ctx, b, service, p)
				if err != nil {
					return nil, err
				}
				figs = append(figs, f...)
			}
		}
		return figs, nil
	}
}
