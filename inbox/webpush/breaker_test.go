package webpush_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/webpush"
	"github.com/tidingsdev/tidings/inbox/webpush/webpushtest"
)

// clock is a test's settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Each push service origin has a breaker of its own: while one push
// service is down (its breaker open, its pushes held without a request),
// the other's pushes go; when the down one answers a probe, its held
// pushes go, each once.
func TestBreakerPerPushService(t *testing.T) {
	down := webpushtest.Start(t, vapidPublic)
	up := webpushtest.Start(t, vapidPublic)
	if down.Origin == up.Origin {
		t.Fatalf("both push services at %s", up.Origin)
	}
	up.Trust(down) // one client for both, as a real inbox's
	ana := world.Unique("ana")
	subscribe(t, down, "acme", ana)
	subscribe(t, up, "acme", ana)
	c := &clock{now: time.Now()}
	in := newInbox(t, up, webpush.Config{Recipients: to(webpush.Recipient{ID: ana}), Now: c.Now,
		Breakers: inbox.BreakerConfig{Failures: 2, OpenFor: time.Minute}})
	down.Down(t, http.StatusServiceUnavailable)
	issue := world.NewIssue(t)
	var events []activity.Event
	for i := range 4 {
		ev := world.Record(t, "acme", issue, "comment_added", "Cy")
		events = append(events, ev)
		err := inboxtest.Process(t, testDB, in, ev)
		var ue *inbox.UnreachableError
		if !errors.As(err, &ue) || ue.Sink != down.Origin {
			t.Fatalf("event %d: %v; want %s unreachable or held", i, err, down.Origin)
		}
		if i >= 2 && !errors.Is(err, inbox.ErrHeld) {
			t.Fatalf("event %d: %v; want held (the breaker of %s is open)", i, err, down.Origin)
		}
	}
	if n := len(down.Pushes()); n != 2 {
		t.Errorf("%d requests reached the push service that is down; want 2 (then its breaker holds them)", n)
	}
	if n := len(up.Accepted()); n != 4 {
		t.Fatalf("%d pushes accepted by the push service that is up; want 4 (its breaker is its own)", n)
	}
	open := false
	for _, b := range in.Breakers() {
		open = open || (b.Sink == down.Origin && b.State == inbox.BreakerOpen)
		if b.Sink == up.Origin {
			t.Errorf("a breaker for the push service that answers: %+v", b)
		}
	}
	if !open {
		t.Fatalf("breakers %+v; want %s open", in.Breakers(), down.Origin)
	}
	// Back up, after the open time: the retries push each event once.
	down.Up(t)
	c.Add(time.Minute)
	for _, ev := range events {
		if err := inboxtest.Process(t, testDB, in, ev); err != nil {
			t.Fatalf("retry of %s: %v", ev.Ref(), err)
		}
	}
	if n, m := countAccepted(down.Pushes()), len(up.Accepted()); n != 4 || m != 4 {
		t.Fatalf("accepted %d and %d; want each event once at each push service", n, m)
	}
}
