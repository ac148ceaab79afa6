package observe_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/observe"
)

// spanNamed returns the ended spans called name.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// A recorded event carries its recording span's traceparent; each of its
// deliveries runs in a child span of it, in the caller's trace, and an
// event recorded by a delivery continues the trace.
func TestTraceFromRecordingToDeliveries(t *testing.T) {
	reset(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr := observe.NewTracing(observe.TracingConfig{TracerProvider: tp})
	projects := newProjects(tr.Recording())

	done := make(chan struct{}, 4)
	ctx := context.Background()
	books := inbox.Func("books", inbox.On("project"), func(ctx context.Context, d *inbox.Delivery) error {
		if d.Event.Action == "pledged" { // a job that records: its event continues the trace
			if _, err := projects.RecordEvent(ctx, d.DB, d.Event.SubjectID, "viewed", activity.Actor(activity.System("books"))); err != nil {
				return err
			}
		}
		done <- struct{}{}
		return nil
	})
	audit := inbox.Func("audit", inbox.On("project", "pledged"), func(ctx context.Context, d *inbox.Delivery) error {
		if _, err := d.Send(ctx, "ops", func(context.Context) error { return nil }); err != nil { // an external send
			return err
		}
		done <- struct{}{}
		return nil
	})
	startWorker(t, inbox.Config{Domains: []*activity.Domain{projects}, Inboxes: []inbox.Inbox{books, audit}, Middleware: []inbox.Middleware{tr.Delivery()}})

	rctx, root := tp.Tracer("test").Start(ctx, "HTTP POST /projects/{id}/pledges")
	res, err := projects.RecordEvent(rctx, testDB, "p-alpha", "pledged", activity.Actor(activity.Ref{Type: "users", ID: "u-1"}))
	if err != nil {
		t.Fatal(err)
	}
	root.End()
	if res.Event.TraceParent == nil || *res.Event.TraceParent == "" {
		t.Fatal("the event stored no traceparent")
	}
	for range 3 { // books twice (pledged, viewed), audit once
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("deliveries did not run within 10s")
		}
	}
	waitFor(t, 5*time.Second, "3 delivery spans and 2 recording spans ended", func() bool { // recording spans end in groups, within RecordingEndDelay
		return len(spansNamed(exp, "process books"))+len(spansNamed(exp, "process audit")) == 3 &&
			len(spansNamed(exp, "record project pledged"))+len(spansNamed(exp, "record project viewed")) == 2
	})

	traceID := root.SpanContext().TraceID()
	records := spansNamed(exp, "record project pledged")
	if len(records) != 1 {
		t.Fatalf("%d recording spans", len(records))
	}
	rec := records[0]
	if rec.SpanContext.TraceID() != traceID || rec.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("the recording span is not a child of the request's span")
	}
	if want := observe.TraceParent(rec.SpanContext); *res.Event.TraceParent != want {
		t.Fatalf("event traceparent %q, want the recording span's %q", *res.Event.TraceParent, want)
	}
	// The spans' attributes: few, bounded, set whatever the path.
	wantAttrs(t, rec, map[string]string{"messaging.system": "tidings", "messaging.destination.name": "project", "tidings.action": "pledged",
		"tidings.event.id": strconv.FormatInt(res.Event.ID, 10)}, "tidings.throttled")
	for _, s := range spansNamed(exp, "process audit") {
		wantAttrs(t, s, map[string]string{"messaging.system": "asynq", "messaging.destination.name": inbox.DefaultQueue, "tidings.action": "pledged",
			"messaging.message.id": inbox.TaskID("audit", res.Event.Ref()), "tidings.attempt": "1"}, "tidings.outcome")
	}
	var pledgeBooks tracetest.SpanStub
	for _, name := range []string{"process books", "process audit"} {
		for _, s := range spansNamed(exp, name) {
			if s.SpanContext.TraceID() != traceID {
				t.Errorf("%s is in another trace", name)
			}
			if s.SpanKind != trace.SpanKindConsumer {
				t.Errorf("%s kind %v", name, s.SpanKind)
			}
			if s.Parent.SpanID() == rec.SpanContext.SpanID() && name == "process books" {
				pledgeBooks = s
			}
		}
	}
	if !pledgeBooks.SpanContext.IsValid() {
		t.Fatal("no books delivery span is a child of the recording span")
	}
	audits, sends := spansNamed(exp, "process audit"), spansNamed(exp, "send audit")
	if len(audits) != 1 || len(sends) != 1 || sends[0].Parent.SpanID() != audits[0].SpanContext.SpanID() || sends[0].SpanKind != trace.SpanKindClient {
		t.Fatalf("the external send is not a client span under its delivery: %d deliveries, %d sends", len(audits), len(sends))
	}
	views := spansNamed(exp, "record project viewed")
	if len(views) != 1 || views[0].Parent.SpanID() != pledgeBooks.SpanContext.SpanID() {
		t.Fatalf("the event recorded by the job is not a child of its delivery span: %+v", views)
	}
	var viewBooks int
	for _, s := range spansNamed(exp, "process books") {
		if s.Parent.SpanID() == views[0].SpanContext.SpanID() {
			viewBooks++
		}
	}
	if viewBooks != 1 {
		t.Fatalf("the caused event's delivery is not a child of its recording span")
	}
}

// Recording spans reach the span processors in groups (RecordingEndBatch),
// after RecordingEndDelay at most, or at Flush; each keeps the end time of
// its own call.
func TestRecordingSpansEndInGroups(t *testing.T) {
	reset(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	ctx := context.Background()
	actor := activity.Actor(activity.Ref{Type: "users", ID: "u-1"})
	ended := func() int { return len(spansNamed(exp, "record project pledged")) }

	tr := observe.NewTracing(observe.TracingConfig{TracerProvider: tp, RecordingEndBatch: 3, RecordingEndDelay: time.Hour})
	projects := newProjects(tr.Recording())
	var before, after [4]time.Time
	for i := range 4 {
		before[i] = time.Now()
		if _, err := projects.RecordEvent(ctx, testDB, "p-alpha", "pledged", actor); err != nil {
			t.Fatal(err)
		}
		after[i] = time.Now()
		if want := []int{0, 0, 3, 3}[i]; ended() != want {
			t.Fatalf("after %d recordings %d spans ended, want %d", i+1, ended(), want)
		}
	}
	tr.Flush()
	spans := spansNamed(exp, "record project pledged")
	if len(spans) != 4 {
		t.Fatalf("after Flush %d spans ended, want 4", len(spans))
	}
	for i, s := range spans {
		if s.StartTime.Before(before[i]) || s.EndTime.Before(s.StartTime) || s.EndTime.After(after[i]) {
			t.Errorf("span %d: %v to %v, not within its call's %v to %v", i, s.StartTime, s.EndTime, before[i], after[i])
		}
	}

	exp.Reset()
	tr = observe.NewTracing(observe.TracingConfig{TracerProvider: tp, RecordingEndBatch: 100, RecordingEndDelay: 10 * time.Millisecond})
	projects = newProjects(tr.Recording())
	if _, err := projects.RecordEvent(ctx, testDB, "p-alpha", "pledged", actor); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a lone span ended after RecordingEndDelay", func() bool { return ended() == 1 })

	exp.Reset()
	tr = observe.NewTracing(observe.TracingConfig{TracerProvider: tp, RecordingEndBatch: 1, RecordingEndDelay: time.Hour})
	projects = newProjects(tr.Recording())
	if _, err := projects.RecordEvent(ctx, testDB, "p-alpha", "pledged", actor); err != nil {
		t.Fatal(err)
	}
	if ended() != 1 {
		t.Fatal("with RecordingEndBatch 1 the span did not end with its call")
	}
}

// With no tracer provider (the no-op), nothing is stored with events.
func TestNoTracerProviderStoresNothing(t *testing.T) {
	reset(t)
	tr := observe.NewTracing(observe.TracingConfig{TracerProvider: noop.NewTracerProvider()})
	projects := newProjects(tr.Recording())
	res, err := projects.RecordEvent(context.Background(), testDB, "p-alpha", "pledged", activity.Actor(activity.Ref{Type: "users", ID: "u-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Event.TraceParent != nil {
		t.Fatalf("traceparent %q stored without tracing", *res.Event.TraceParent)
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc, ok := observe.ParseTraceParent(tp)
	if !ok || observe.TraceParent(sc) != tp || !sc.IsRemote() {
		t.Fatalf("round trip of %s: %v %v", tp, ok, observe.TraceParent(sc))
	}
	for _, bad := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"} {
		if _, ok := observe.ParseTraceParent(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// wantAttrs fails unless span has each of want's attributes with its value
// (as Emit renders it) and none of absent.
func wantAttrs(t *testing.T, span tracetest.SpanStub, want map[string]string, absent ...string) {
	t.Helper()
	got := map[string]string{}
	for _, a := range span.Attributes {
		got[string(a.Key)] = a.Value.Emit()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %q: attribute %s = %q, want %q (has %v)", span.Name, k, got[k], v, got)
		}
	}
	for _, k := range absent {
		if _, ok := got[k]; ok {
			t.Errorf("span %q: attribute %s = %q, want none", span.Name, k, got[k])
		}
	}
}
