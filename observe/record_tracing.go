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
	name string
	opts []trace.SpanStartOption
}

func (r *recordTracing) Declared(d *activity.Domain) {
	starts := map[string]*spanStart{}
	for _, a := range append(d.Actions(), unknownAction) {
		starts[a] = &spanStart{name: "record " + d.Name() + " " + a, opts: []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes( // few: each costs on every call
				attribute.String("messaging.system", "tidings"),
				attribute.String("messaging.destination.name", d.Name()),
				attribute.String("tidings.action", a),
			),
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
	ctx, span := r.t.tracer.Start(ctx, st.name, st.opts...)
	if !span.SpanContext().IsValid() { // a no-op provider: store nothing, end nothing
		return ctx, noEnd
	}
	md := activity.MetadataFrom(ctx)
	md.TraceParent = TraceParent(span.SpanContext())
	ctx = activity.WithMetadata(ctx, md)
	return ctx, func(res activity.Result, err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(attribute.Int64("tidings.event.id", res.Event.ID), attribute.Bool("tidings.throttled", res.Throttled))
		}
		span.End()
	}
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
