package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/observe"
)

// observeGroup measures what metrics and tracing cost: recording and
// fan-out with package observe's Prometheus metrics and OpenTelemetry
// tracing on (a real SDK tracer provider sampling every span, batching
// them to an exporter that drops them) against the same with both off.
func observeGroup() group {
	return group{
		name:  "observe",
		about: "recording and fan-out with metrics and tracing on, against off",
		run:   runObserve,
	}
}

// discard is a span exporter that drops what it is given: the cost
// measured is making, ending and batching spans, not shipping them.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// observed is the bench's telemetry for one group run.
type observed struct {
	metrics *observe.Metrics
	tracing *observe.Tracing
	tp      *sdktrace.TracerProvider
	issues  *activity.Domain // the issue domain with both observers
}

func newObserved(b *bench) (*observed, error) {
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(observe.MetricsConfig{Registerer: reg})
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	t := observe.NewTracing(observe.TracingConfig{TracerProvider: tp})
	return &observed{metrics: m, tracing: t, tp: tp, issues: newIssueDomainObserved(activity.Observers(m.Recording(), t.Recording()))}, nil
}

func runObserve(ctx context.Context, b *bench) ([]figure, error) {
	o, err := newObserved(b)
	if err != nil {
		return nil, err
	}
	// Both sides commit without waiting for the WAL flush: with it, a
	// round's throughput follows the disk's flush time (runs of the same
	// side ranged 1,500-4,400 ev/s on a cloud disk), which telemetry does
	// not touch and which hid a few percent of CPU; without it, recording
	// is bound by the CPU that telemetry adds to.
	db, err := openGorm(withSetting(b.dsn, "synchronous_commit", "off"), b.poolSize)
	if err != nil {
		return nil, err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	prev := b.db
	b.db = db
	defer func() { b.db = prev }()
	defer func() {
		o.tracing.Flush() // as an app does before shutting its provider down
		o.tp.Shutdown(context.Background())
	}()
	var figs []figure

	// Recording: the same calls on the same table, observed or not.
	record := func(d *activity.Domain) func(ctx context.Context, w, i int) error {
		return func(ctx context.Context, w, i int) error {
			c := recordCall(w, i)
			_, err := d.RecordEvent(ctx, b.db, c.Subject, c.Action, c.options()...)
			return err
		}
	}
	on, off := record(o.issues), record(b.issues)
	hand, err := handTraced(b, o.tp)
	if err != nil {
		return nil, err
	}
	// The difference sought (a few percent) is smaller than the swings of
	// a shared 2-core VM from one second to the next (a side's runs vary
	// by 2x there), so many short rounds, not a few long ones: each pair
	// is close in time, and the median of many shrugs off the bursts.
	d := b.duration(roundLength/4, 200*time.Millisecond)
	recordRounds := 4 * b.rounds
	warm := b.duration(500*time.Millisecond, 100*time.Millisecond)
	const workers = 8
	for _, op := range []func(context.Context, int, int) error{on, off, hand} {
		if _, err := throughput(ctx, workers, warm, op); err != nil {
			return nil, fmt.Errorf("observe: warm up: %w", err)
		}
	}
	b.logf("observe: record, %d workers, %d rounds of %s per side, 3 sides", workers, recordRounds, d)
	var cpuOn, cpuOff, cpuHand []float64    // the bench process's CPU µs per event, per run
	var rateOn, rateOff, rateHand []float64 // events/s, per run
	timed := func(op func(context.Context, int, int) error, cpu, rates *[]float64) func() (float64, error) {
		return func() (float64, error) {
			c0 := processCPU()
			rate, err := throughput(ctx, workers, d, op)
			if err == nil && rate > 0 {
				*cpu = append(*cpu, (processCPU()-c0)*1e6/(rate*d.Seconds()))
				*rates = append(*rates, rate)
			}
			return rate, err
		}
	}
	m, err := alternateN(recordRounds, timed(on, &cpuOn, &rateOn), timed(off, &cpuOff, &rateOff), timed(hand, &cpuHand, &rateHand))
	if err != nil {
		return nil, fmt.Errorf("observe: record: %w", err)
	}
	figs = append(figs,
		figure{Name: fmt.Sprintf("record, concurrency %d, metrics + tracing on (vs off)", workers), Unit: "ev/s", Ours: m[0], Baseline: m[1], Target: target{MinRatio: 0.95}},
		figure{Name: "record, by hand: one SDK span and a counter per call, untouched library (vs off)", Unit: "ev/s", Ours: m[2], Baseline: m[1]},
		figure{Name: "record, metrics + tracing on (vs by hand)", Unit: "ev/s", Ours: m[0], Baseline: m[2]},
		figure{Name: "record, bench process CPU per event, on (vs off)", Unit: "µs", Ours: median(cpuOn), Baseline: median(cpuOff)},
		figure{Name: "record, bench process CPU per event, by hand (vs off)", Unit: "µs", Ours: median(cpuHand), Baseline: median(cpuOff)},
	)

	// Fan-out: a backlog drained by a worker to two no-op inboxes, with
	// the delivery middleware and the worker's collector on, or not. The
	// events carry a traceparent, as traced recordings leave them.
	events := b.size(4000, 1000)
	const inboxes = 2
	rounds := 3 * b.rounds // each side drains the same backlog: many short rounds shrug off bursts of other work
	b.logf("observe: fan-out, %d events x %d inboxes, %d rounds per side", events, inboxes, rounds)
	var fcpuOn, fcpuOff []float64   // CPU µs per delivery, per run
	var frateOn, frateOff []float64 // deliveries/s, per run
	fanout := func(on bool, cpu, rates *[]float64) func() (float64, error) {
		return func() (float64, error) {
			c0 := processCPU()
			rate, secs, err := observedFanout(ctx, b, o, events, inboxes, on)
			if err == nil {
				*cpu = append(*cpu, (processCPU()-c0)*1e6/(rate*secs))
				*rates = append(*rates, rate)
			}
			return rate, err
		}
	}
	fo, fb, err := alternate(rounds, fanout(true, &fcpuOn, &frateOn), fanout(false, &fcpuOff, &frateOff))
	if err != nil {
		return nil, fmt.Errorf("observe: fan-out: %w", err)
	}
	figs = append(figs,
		figure{Name: "fan-out deliveries/s, metrics + tracing on (vs off)", Unit: "del/s", Ours: fo, Baseline: fb, Target: target{MinRatio: 0.95}},
		figure{Name: "fan-out, bench process CPU per delivery, on (vs off)", Unit: "µs", Ours: median(fcpuOn), Baseline: median(fcpuOff)},
	)
	b.note("observe: both sides on a pool whose sessions commit asynchronously (synchronous_commit off: the disk's flush time swung the rounds more than telemetry costs). \"on\" is package observe's Prometheus metrics (a registry of the run's own) and OpenTelemetry tracing through the SDK (AlwaysSample, batch span processor, an exporter that drops the spans); \"off\" the same code without observers or middleware. Recording: issues.RecordEvent as in the record group, %d workers, median of %d alternating runs of %s per side. Fan-out: %d outbox rows of events carrying a traceparent drained by a worker to %d no-op inboxes (tracing.Delivery and metrics.Delivery middleware, the worker's collector registered), median of %d alternating rounds. CPU per event or delivery: the bench process's CPU time (getrusage) over a run divided by its events or deliveries (PostgreSQL's and Redis's not included); on a machine shared with other work it varies less than throughput does.",
		workers, recordRounds, d, events, inboxes, rounds)
	b.note("observe: \"by hand\" is the floor an app reaches tracing and counting its recordings itself, with the library's observers off: around each RecordEvent, a span of the same SDK provider (the same name, kind and attributes as ours, its traceparent stored with the event through activity.WithTraceParent, ended as the call returns) and a Prometheus counter by domain and action.")
	b.note("observe: spread of the runs. Record (ev/s): %s. By hand against off: %s. Fan-out (del/s): %s.", spread(rateOn, rateOff), spread(rateHand, rateOff), spread(frateOn, frateOff))
	return figs, nil
}

// spread describes alternating runs of two sides: each side's range and
// the on/off ratio of each round's pair (adjacent in time, so other work
// on the machine weighs on both alike), smallest, median and largest.
func spread(on, off []float64) string {
	n := min(len(on), len(off))
	if n == 0 {
		return "no runs"
	}
	ratios := make([]float64, n)
	for i := range n {
		ratios[i] = on[i] / off[i]
	}
	return fmt.Sprintf("on %s-%s, off %s-%s; per-round ratio on/off min %.2fx, median %.2fx, max %.2fx over %d rounds",
		thousands(int64(slices.Min(on))), thousands(int64(slices.Max(on))), thousands(int64(slices.Min(off))), thousands(int64(slices.Max(off))),
		slices.Min(ratios), median(ratios), slices.Max(ratios), n)
}

// observedFanout drains events outbox rows through a worker, observed or
// not, and returns deliveries per second.
func observedFanout(ctx context.Context, b *bench, o *observed, events, inboxes int, on bool) (rate, secs float64, err error) {
	if err := clearOutbox(ctx, b); err != nil {
		return 0, 0, err
	}
	if err := b.db.WithContext(ctx).Exec(`WITH ev AS (
  INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, trace_parent)
  SELECT 1 + g % ?, 'comment_added', 'users', (1 + g % 1000)::text, 'User', '00-' || md5(g::text) || '-' || substr(md5((-g)::text), 1, 16) || '-01'
    FROM generate_series(1, ?) g
  RETURNING id, action, subject_id)
INSERT INTO `+activity.OutboxTable+` (domain, event_id, action, subject_id) SELECT 'issue', id, action, subject_id::text FROM ev ORDER BY id`,
		fixtureIssues, events).Error; err != nil {
		return 0, 0, err
	}
	deliveries := events * inboxes
	var count atomic.Int64
	done := make(chan struct{})
	var ins []inbox.Inbox
	for k := range inboxes {
		ins = append(ins, &noop{name: fmt.Sprintf("bench-noop-%d", k), count: &count, want: int64(deliveries), done: done})
	}
	cfg := inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: ins, Logger: quietLogger()}
	if on {
		cfg.Domains = []*activity.Domain{o.issues}
		cfg.Middleware = []inbox.Middleware{o.tracing.Delivery(), o.metrics.Delivery()}
	}
	w, err := inbox.NewWorker(cfg)
	if err != nil {
		return 0, 0, err
	}
	if on {
		if err := o.metrics.Worker(w); err != nil {
			return 0, 0, err
		}
	}
	start := time.Now()
	if err := w.Start(ctx); err != nil {
		return 0, 0, err
	}
	err = waitDone(ctx, done, 5*time.Minute, "the observed fan-out run")
	elapsed := time.Since(start)
	w.Shutdown()
	if err != nil {
		return 0, 0, err
	}
	return float64(deliveries) / elapsed.Seconds(), elapsed.Seconds(), nil
}

// processCPU returns the process's CPU time so far, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// handTraced returns a recording traced and counted the way an app would
// by hand, around the untraced issue domain: one span of tp per call,
// named and attributed as observe names its own, with its traceparent
// stored in the event, and a counter by domain and action.
func handTraced(b *bench, tp *sdktrace.TracerProvider) (func(ctx context.Context, w, i int) error, error) {
	tracer := tp.Tracer("bench")
	recorded := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bench_recorded_events_total", Help: "Events recorded."}, []string{"domain", "action"})
	if err := prometheus.NewRegistry().Register(recorded); err != nil {
		return nil, err
	}
	return func(ctx context.Context, w, i int) error {
		c := recordCall(w, i)
		ctx, span := tracer.Start(ctx, "record issue "+c.Action, trace.WithSpanKind(trace.SpanKindProducer))
		ctx = activity.WithTraceParent(ctx, observe.TraceParent(span.SpanContext()))
		res, err := b.issues.RecordEvent(ctx, b.db, c.Subject, c.Action, c.options()...)
		attrs := []attribute.KeyValue{
			attribute.String("messaging.system", "tidings"),
			attribute.String("messaging.destination.name", "issue"),
			attribute.String("tidings.action", c.Action),
		}
		if err != nil {
			span.SetAttributes(attrs...)
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(append(attrs, attribute.Int64("tidings.event.id", res.Event.ID))...)
			recorded.WithLabelValues("issue", c.Action).Inc()
		}
		span.End()
		return err
	}, nil
}
