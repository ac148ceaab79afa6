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
