package activity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// fakeObserver records what it saw and sets a traceparent, as a tracer does.
type fakeObserver struct {
	declared []string
	started  []string
	ended    []string
	tp       string
}

func (o *fakeObserver) Declared(d *activity.Domain) { o.declared = append(o.declared, d.Name()) }

func (o *fakeObserver) RecordStart(ctx context.Context, d *activity.Domain, action string) (context.Context, func(activity.Result, error)) {
	o.started = append(o.started, action)
	if o.tp != "" {
		md := activity.MetadataFrom(ctx)
		md.TraceParent = o.tp
		ctx = activity.WithMetadata(ctx, md)
	}
	return ctx, func(r activity.Result, err error) {
		switch {
		case err != nil:
			o.ended = append(o.ended, "error")
		case r.Throttled:
			o.ended = append(o.ended, "throttled")
		default:
			o.ended = append(o.ended, "inserted")
		}
	}
}

// An observer sees the declaration and every call with its outcome, and
// the traceparent it puts on the context is stored with the event.
func TestObserverSeesCallsAndStoresTraceParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	a, b := &fakeObserver{tp: tp}, &fakeObserver{}
	d := activity.MustDomain(activity.DomainConfig{
		Name: "issue", Actions: []string{"comment_added", "comment_viewed"},
		Observer: activity.Observers(a, nil, b),
	})
	if strings.Join(a.declared, ",") != "issue" || strings.Join(b.declared, ",") != "issue" {
		t.Fatalf("declared: %v %v", a.declared, b.declared)
	}
	u, i := fixture(t)
	ctx := activity.WithActor(context.Background(), u)
	res, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added")
	if err != nil {
		t.Fatal(err)
	}
	if res.Event.TraceParent == nil || *res.Event.TraceParent != tp {
		t.Fatalf("traceparent %v, want %s", res.Event.TraceParent, tp)
	}
	back, err := d.Event(context.Background(), testDB, res.Event.ID)
	if err != nil || back.TraceParent == nil || *back.TraceParent != tp {
		t.Fatalf("read back: %v %v", back.TraceParent, err)
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_viewed", activity.ThrottleWithin(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, err := d.RecordEvent(ctx, testDB, i.ID, "comment_viewed", activity.ThrottleWithin(time.Hour)); err != nil || !r.Throttled {
		t.Fatalf("throttled repeat: %v %v", r.Throttled, err)
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_add"); !errors.Is(err, activity.ErrUnknownAction) {
		t.Fatal(err)
	}
	want := "inserted,inserted,throttled,error"
	if got := strings.Join(a.ended, ","); got != want {
		t.Fatalf("outcomes %s, want %s", got, want)
	}
	if got := strings.Join(b.ended, ","); got != want {
		t.Fatalf("second observer's outcomes %s, want %s", got, want)
	}
}

// A traceparent that is not W3C's form is refused before any write.
func TestTraceParentMustBeW3C(t *testing.T) {
	u, i := fixture(t)
	for _, bad := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'; --", "00-\x00"} {
		_, err := issues.RecordEvent(context.Background(), testDB, i.ID, "comment_added", activity.Actor(u), activity.Meta(activity.Metadata{TraceParent: bad}))
		var oe *activity.OptionError
		if !errors.As(err, &oe) || oe.Option != "Metadata.TraceParent" {
			t.Errorf("%q: got %v, want an OptionError on Metadata.TraceParent", bad, err)
		}
	}
	if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
		t.Fatalf("refused calls wrote %d events, %d outbox rows", ev, ob)
	}
}

// traceParentObserver sets its traceparent the cheap way, as package
// observe's tracer does.
type traceParentObserver struct{ tp string }

func (traceParentObserver) Declared(*activity.Domain) {}
func (o traceParentObserver) RecordStart(ctx context.Context, _ *activity.Domain, _ string) (context.Context, func(activity.Result, error)) {
	return activity.WithTraceParent(ctx, o.tp), func(activity.Result, error) {}
}

// WithTraceParent's traceparent is stored with the event, over the one of
// the context's Metadata; a Meta option's still wins.
func TestWithTraceParent(t *testing.T) {
	const (
		fromObserver = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		fromContext  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		fromOption   = "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-00"
	)
	d := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added"}, Observer: traceParentObserver{tp: fromObserver}})
	u, i := fixture(t)
	ctx := activity.WithMetadata(activity.WithActor(context.Background(), u), activity.Metadata{TraceParent: fromContext})
	for _, tc := range []struct {
		opts []activity.Option
		want string
	}{{nil, fromObserver}, {[]activity.Option{activity.Meta(activity.Metadata{TraceParent: fromOption})}, fromOption}} {
		res, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if res.Event.TraceParent == nil || *res.Event.TraceParent != tc.want {
			t.Errorf("traceparent %v, want %s", res.Event.TraceParent, tc.want)
		}
	}
	bad := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added"}, Observer: traceParentObserver{tp: "00-not-hex"}})
	if _, err := bad.RecordEvent(ctx, testDB, i.ID, "comment_added"); err == nil {
		t.Fatal("a malformed traceparent from WithTraceParent was stored")
	}
}

func TestValidTraceParent(t *testing.T) {
	for s, want := range map[string]bool{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":    true,
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00":    true, // a later version keeps the fields
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":    false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ":   false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01":    false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736000f067aa0ba902b7-01":    false,
		"004bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-":    false,
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01":    false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\x00": false,
		"": false,
	} {
		if got := activity.ValidTraceParent(s); got != want {
			t.Errorf("ValidTraceParent(%q) = %v, want %v", s, got, want)
		}
	}
}
