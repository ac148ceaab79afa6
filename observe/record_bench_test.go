package observe_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/observe"
)

// What metrics and tracing add to a recording, as the bench's observe
// group sets them up (AlwaysSample, a batch span processor, an exporter
// that drops the spans). cpu-µs/op is the process's CPU time per call
// (getrusage), which is what the recording throughput pays for on a
// machine PostgreSQL shares; B/op and allocs/op the client's own.
//
//	go test -run '^$' -bench RecordObserved -benchmem ./observe/
func BenchmarkRecordObserved(b *testing.B) {
	ctx := context.Background()
	sides := []struct {
		name string
		obs  func() (activity.Observer, func())
	}{
		{"off", func() (activity.Observer, func()) { return nil, func() {} }},
		{"metrics", func() (activity.Observer, func()) {
			m, _ := observe.NewMetrics(observe.MetricsConfig{Registerer: prometheus.NewRegistry()})
			return m.Recording(), func() {}
		}},
		{"tracing", func() (activity.Observer, func()) {
			tp := benchProvider()
			return observe.NewTracing(observe.TracingConfig{TracerProvider: tp}).Recording(), func() { tp.Shutdown(ctx) }
		}},
		{"on", func() (activity.Observer, func()) {
			tp := benchProvider()
			m, _ := observe.NewMetrics(observe.MetricsConfig{Registerer: prometheus.NewRegistry()})
			t := observe.NewTracing(observe.TracingConfig{TracerProvider: tp})
			return activity.Observers(m.Recording(), t.Recording()), func() { tp.Shutdown(ctx) }
		}},
	}
	for _, s := range sides {
		b.Run(s.name, func(b *testing.B) {
			obs, done := s.obs()
			defer done()
			projects := newProjects(obs)
			b.SetParallelism(4) // 8 goroutines on 2 cores, as the bench's 8 workers
			b.ReportAllocs()
			c0 := cpuSeconds()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				actor := activity.Actor(activity.System("bench"))
				for pb.Next() {
					if _, err := projects.RecordEvent(ctx, testDB, "p-alpha", "pledged", actor); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric((cpuSeconds()-c0)*1e6/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkRecordObservedCPU is BenchmarkRecordObserved's sides in one
// run, alternating blocks of 400 recordings (8 goroutines) between them,
// so that other work on a shared machine weighs on each alike: each
// iteration is one block per side, and each side reports the median of
// its blocks' process CPU per recording. "on, ungrouped" ends each
// recording span as its call returns (RecordingEndBatch 1); "span floor"
// is the SDK's own cost, for comparison: a bare span (no attributes, no
// traceparent) started and ended around each call, through the same kind
// of provider.
//
//	go test -run '^$' -bench RecordObservedCPU -benchtime 30x ./observe/
func BenchmarkRecordObservedCPU(b *testing.B) {
	ctx := context.Background()
	on := func(batch int) activity.Observer {
		tp := benchProvider()
		b.Cleanup(func() { tp.Shutdown(ctx) })
		m, _ := observe.NewMetrics(observe.MetricsConfig{Registerer: prometheus.NewRegistry()})
		t := observe.NewTracing(observe.TracingConfig{TracerProvider: tp, RecordingEndBatch: batch})
		b.Cleanup(t.Flush)
		return activity.Observers(m.Recording(), t.Recording())
	}
	floor := benchProvider()
	b.Cleanup(func() { floor.Shutdown(ctx) })
	sides := []struct {
		unit string
		d    *activity.Domain
		cpu  []float64
		mem  []float64
	}{
		{unit: "off-cpu-µs/op", d: newProjects(nil)},
		{unit: "on-cpu-µs/op", d: newProjects(on(0))},
		{unit: "on-ungrouped-cpu-µs/op", d: newProjects(on(1))},
		{unit: "span-floor-cpu-µs/op", d: newProjects(bareSpan{tr: floor.Tracer("bench")})},
	}
	const block, workers = 400, 8
	for b.Loop() {
		for i := range sides {
			s := &sides[i]
			c0 := cpuSeconds()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					actor := activity.Actor(activity.System("bench"))
					for range block / workers {
						if _, err := s.d.RecordEvent(ctx, testDB, "p-alpha", "pledged", actor); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			s.cpu = append(s.cpu, (cpuSeconds()-c0)*1e6/block)
			runtime.ReadMemStats(&m1)
			s.mem = append(s.mem, float64(m1.TotalAlloc-m0.TotalAlloc)/block)
		}
	}
	for _, s := range sides {
		slices.Sort(s.cpu)
		b.ReportMetric(s.cpu[len(s.cpu)/2], s.unit)
		slices.Sort(s.mem)
		b.ReportMetric(s.mem[len(s.mem)/2], strings.TrimSuffix(s.unit, "cpu-µs/op")+"B/op")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRecordObserver is the observers alone, without the database:
// RecordStart and its end as a RecordEvent call makes them, against the
// floor of the SDK's own span (Start and End, no attributes).
//
//	go test -run '^$' -bench RecordObserver -benchmem ./observe/
func BenchmarkRecordObserver(b *testing.B) {
	ctx := context.Background()
	res := activity.Result{Event: activity.Event{ID: 42}}
	b.Run("sdk-span-floor", func(b *testing.B) {
		tp := benchProvider()
		defer tp.Shutdown(ctx)
		tracer := tp.Tracer("bench")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, span := tracer.Start(ctx, "record project pledged", trace.WithSpanKind(trace.SpanKindProducer))
				span.End()
			}
		})
	})
	for _, s := range []string{"metrics", "tracing", "on"} {
		b.Run(s, func(b *testing.B) {
			tp := benchProvider()
			defer tp.Shutdown(ctx)
			m, _ := observe.NewMetrics(observe.MetricsConfig{Registerer: prometheus.NewRegistry()})
			t := observe.NewTracing(observe.TracingConfig{TracerProvider: tp})
			var obs activity.Observer
			switch s {
			case "metrics":
				obs = m.Recording()
			case "tracing":
				obs = t.Recording()
			default:
				obs = activity.Observers(m.Recording(), t.Recording())
			}
			d := newProjects(obs)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, end := obs.RecordStart(ctx, d, "pledged")
					end(res, nil)
				}
			})
		})
	}
}

// bareSpan is an activity.Observer making the SDK's cheapest span around
// each call.
type bareSpan struct{ tr trace.Tracer }

func (bareSpan) Declared(*activity.Domain) {}

func (o bareSpan) RecordStart(ctx context.Context, _ *activity.Domain, _ string) (context.Context, func(activity.Result, error)) {
	ctx, span := o.tr.Start(ctx, "record")
	return ctx, func(activity.Result, error) { span.End() }
}

func benchProvider() *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discardSpans{}))
}

// discardSpans is the bench's exporter: it drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
