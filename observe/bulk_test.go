package observe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/observe"
)

// RecordEvents is observed too: its events count under their actions (its
// entries as failed when the call is refused), and one span covers the
// call, whose traceparent every event stores.
func TestBulkRecordingObserved(t *testing.T) {
	reset(t)
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(observe.MetricsConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr := observe.NewTracing(observe.TracingConfig{TracerProvider: tp})
	projects := newProjects(activity.Observers(m.Recording(), tr.Recording()))

	ctx := activity.WithActor(context.Background(), activity.Ref{Type: "users", ID: "u-9"})
	res, err := projects.RecordEvents(ctx, testDB, []activity.NewEvent{
		{Subject: "p-alpha", Action: "pledged"}, {Subject: "p-beta", Action: "pledged"}, {Subject: "p-alpha", Action: "refunded"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := projects.RecordEvents(ctx, testDB, []activity.NewEvent{
		{Subject: "p-alpha", Action: "pledged"}, {Subject: "p-nowhere", Action: "viewed"},
	}); !errors.Is(err, activity.ErrInvalidSubject) {
		t.Fatalf("a bulk call with a missing subject: %v", err)
	}
	got, _ := scrape(t, reg)
	for k, v := range map[string]float64{
		"tidings_events_recorded_total{action=pledged,domain=project,result=inserted}":  2,
		"tidings_events_recorded_total{action=refunded,domain=project,result=inserted}": 1,
		"tidings_events_recorded_total{action=pledged,domain=project,result=failed}":    1,
		"tidings_events_recorded_total{action=viewed,domain=project,result=failed}":     1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	spans := spansNamed(exp, "record project bulk")
	if len(spans) != 2 {
		t.Fatalf("%d bulk spans, want 2", len(spans))
	}
	want := observe.TraceParent(spans[0].SpanContext)
	for _, e := range res.Events {
		if e.TraceParent == nil || *e.TraceParent != want {
			t.Fatalf("event %d traceparent %v, want the call's span %s", e.ID, e.TraceParent, want)
		}
	}
}
