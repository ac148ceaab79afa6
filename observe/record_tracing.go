package observe

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/activity"
)

// Recording returns the activity.Observer that makes a span for each
// RecordEvent call, in the caller's trace, and stores its traceparent with
// the event (activity.Metadata.TraceParent) so the event's deliveries
// continue the trace. With a no-op tracer provider it stores nothing.
func (t *Tracing) Recording() activity.Observer { return &recordTracing{t: t} }

type recordTracing struct {
	t       *Tracing
	domains sync.Map // *activity.Domain -> map[string]*spanStart
}

// spanStart is what starting a recording span takes for one action, made
// once per declared action.
type spanStart struct {
	name  string
	attrs []attribute.KeyValue // the action's, set with the outcome's at the end
	pool  *sync.Pool           // of *tracedRecord
	ends  *spanEnds            // the Tracing's
}

// The span starts with its kind only and gets every attribute in one
// SetAttributes call at its end: the SDK then sizes the span's attribute
// list once, instead of copying the start options' attributes and growing
// the list again for the outcome's.
var recordSpanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}

// tracedRecord is one traced RecordEvent call between its start and its
// end. They are reused (end is called once per call), with their end
// function bound once: a traced call allocates the SDK's span and the
// traceparent, little of its own.
type tracedRecord struct {
	span  trace.Span
	st    *spanStart
	attrs [5]attribute.KeyValue // st.attrs (3) + the event id + throttled
	end   func(activity.Result, error)
}

func (tr *tracedRecord) finish(res activity.Result, err error) {
	span, st := tr.span, tr.st
	n := copy(tr.attrs[:], st.attrs)
	if err != nil {
		span.SetAttributes(tr.attrs[:n]...)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		tr.attrs[n] = attribute.Int64("tidings.event.id", res.Event.ID)
		n++
		if res.Throttled { // said only when true: one attribute fewer on most spans
			tr.attrs[n] = attribute.Bool("tidings.throttled", true)
			n++
		}
		span.SetAttributes(tr.attrs[:n]...) // the SDK copies them
	}
	tr.span, tr.st = nil, nil
	clear(tr.attrs[:])
	st.pool.Put(tr)
	st.ends.end(span) // with a group of others (see Tracing.Flush)
}

func (r *recordTracing) Declared(d *activity.Domain) {
	pool := &sync.Pool{}
	pool.New = func() any {
		tr := &tracedRecord{}
		tr.end = tr.finish
		return tr
	}
	starts := map[string]*spanStart{}
	for _, a := range append(d.Actions(), unknownAction) {
		starts[a] = &spanStart{name: "record " + d.Name() + " " + a, pool: pool, ends: r.t.ends, attrs: []attribute.KeyValue{ // few: each costs on every call
			attribute.String("messaging.system", "tidings"),
			attribute.String("messaging.destination.name", d.Name()),
			attribute.String("tidings.action", a),
		}}
	}
	r.domains.Store(d, starts)
}

func (r *recordTracing) RecordStart(ctx context.Context, d *activity.Domain, action string) (context.Context, func(activity.Result, error)) {
	v, ok := r.domains.Load(d)
	if !ok {
		r.Declared(d)
		v, _ = r.domains.Load(d)
	}
	starts := v.(map[string]*spanStart)
	st := starts[action]
	if st == nil {
		st = starts[unknownAction] // span names stay bounded
	}
	ctx, span := r.t.tracer.Start(ctx, st.name, recordSpanStart...)
	if !span.IsRecording() {
		// A no-op provider, or a span not sampled: end it (a sampled-out
		// span keeps its context for the calls it makes), and store a
		// traceparent only if it has a valid context to continue.
		if sc := span.SpanContext(); sc.IsValid() {
			ctx = activity.WithTraceParent(ctx, TraceParent(sc))
			span.End()
		}
		return ctx, noEnd
	}
	ctx = activity.WithTraceParent(ctx, TraceParent(span.SpanContext()))
	tr := st.pool.Get().(*tracedRecord)
	tr.span, tr.st = span, st
	return ctx, tr.end
}

// RecordEventsStart makes one span for a RecordEvents call ("record
// <domain> bulk"); every event of the call stores its traceparent.
func (r *recordTracing) RecordEventsStart(ctx context.Context, d *activity.Domain, entries []activity.NewEvent) (context.Context, func(activity.BulkResult, error)) {
	ctx, span := r.t.tracer.Start(ctx, "record "+d.Name()+" bulk", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "tidings"),
			attribute.String("messaging.operation.type", "create"),
			attribute.String("messaging.destination.name", d.Name()),
			attribute.String("tidings.domain", d.Name()),
			attribute.Int("messaging.batch.message_count", len(entries)),
		))
	if span.SpanContext().IsValid() {
		md := activity.MetadataFrom(ctx)
		md.TraceParent = TraceParent(span.SpanContext())
		ctx = activity.WithMetadata(ctx, md)
	}
	return ctx, func(res activity.BulkResult, err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(attribute.String("tidings.correlation_id", res.CorrelationID))
		}
		span.End()
	}
}

var _ activity.BulkObserver = (*recordTracing)(nil)

// noEnd ends the no-op span of a tracer provider that records nothing.
func noEnd(activity.Result, error) {}
