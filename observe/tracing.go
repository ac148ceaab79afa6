package observe

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation name of the spans this package makes.
const TracerName = "github.com/tidingsdev/tidings"

// TracingConfig configures Tracing. Zero fields take the documented
// defaults.
type TracingConfig struct {
	// TracerProvider makes the spans. Default otel.GetTracerProvider():
	// the global one, a no-op until the app sets one, so that tracing
	// costs next to nothing when nobody collects it.
	TracerProvider trace.TracerProvider
	// Propagator reads a caller's trace context from incoming HTTP
	// headers (HTTP). Default propagation.TraceContext (W3C traceparent).
	Propagator propagation.TextMapPropagator
}

// Tracing follows one act from the request that recorded an event to each
// of its deliveries, in one OpenTelemetry trace:
//
//	HTTP POST /issues/{id}/comments      (HTTP, or the app's own server span)
//	└─ record issue comment_added        (Recording: the event stores this span's traceparent)
//	   ├─ process notify                 (Delivery, in the worker: a child of the recording span)
//	   ├─ process email
//	   │  └─ send email                  (each external send through Delivery.Send: one per recipient)
//	   ├─ process slack
//	   │  └─ send slack
//	   └─ process workflow
//	      └─ workflow action reply       (Workflow)
//	         └─ record issue comment_added  (an event caused by a job continues the trace)
//	            └─ process notify ...
//
// The trace context travels with the event: Recording puts the span's
// W3C traceparent in the event's metadata (activity.Metadata.TraceParent,
// stored in its trace_parent column), the relay carries the event in the
// job's payload (or the worker loads it), and Delivery starts each job's
// span as a child of it. A span per delivery attempt: retries show as
// sibling spans.
type Tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewTracing returns the tracing middleware and observers.
func NewTracing(cfg TracingConfig) *Tracing {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &Tracing{tracer: tp.Tracer(TracerName), prop: prop}
}
