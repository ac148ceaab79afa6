package webpush_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/webpush"
	"github.com/tidingsdev/tidings/inbox/webpush/webpushtest"
)

// An event reaches every browser the recipient subscribed in the event's
// tenant, and only those: the push service (Node, http_ece) decrypts each
// push and checks its VAPID token; the text is the catalog's wording in
// the recipient's language.
func TestPushIsDecryptedByAnIndependentPeer(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	cat, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	for loc, f := range map[string]string{"en": "%[1]s commented on %[3]s", "de": "%[1]s hat %[3]s kommentiert"} {
		if err := cat.Set(loc, "issue.comment_added.title", f); err != nil {
			t.Fatal(err)
		}
	}
	ana, bob := world.Unique("ana"), world.Unique("bob")
	laptop, _ := subscribe(t, peer, "acme", ana)
	phone, _ := subscribe(t, peer, "acme", ana)
	bobs, _ := subscribe(t, peer, "acme", bob)
	other, _ := subscribe(t, peer, "globex", ana) // the same key in another tenant
	in := newInbox(t, peer, webpush.Config{Catalog: cat, Recipients: to(webpush.Recipient{ID: ana, Locale: "de"}, webpush.Recipient{ID: bob}),
		URL: func(ev activity.Event) string { return "/issues/" + ev.SubjectID }})
	issue := world.NewIssue(t)
	ev := world.Record(t, "acme", issue, "comment_added", "Cy")
	if err := inboxtest.Process(t, testDB, in, ev); err != nil {
		t.Fatal(err)
	}
	got, err := peer.WaitFor(addresstest.Wait, func(ps []webpushtest.Push) bool { return len(ps) >= 3 })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d pushes, want 3 (two browsers of Ana's, one of Bob's): %+v", len(got), got)
	}
	want := map[string]string{laptop: fmt.Sprintf("Cy hat #%d kommentiert", issue), phone: fmt.Sprintf("Cy hat #%d kommentiert", issue), bobs: fmt.Sprintf("Cy commented on #%d", issue)}
	for _, p := range got {
		if p.Status != http.StatusCreated {
			t.Fatalf("push to %s answered %d: %s", p.Sub, p.Status, p.Error)
		}
		if p.Sub == other {
			t.Fatalf("Ana's browser of tenant globex got acme's event")
		}
		m := message(t, p)
		if m.Title != want[p.Sub] || m.URL != fmt.Sprintf("/issues/%d", issue) || m.Tag != fmt.Sprintf("issue/%d", issue) ||
			len(m.Events) != 1 || m.Events[0] != (webpush.Ref{Domain: "issue", ID: ev.ID}) {
			t.Errorf("push to %s: %+v, want title %q", p.Sub, m, want[p.Sub])
		}
		exp := time.Unix(p.Claims.Exp, 0)
		if p.Claims.Aud != peer.Origin || p.Claims.Sub != "mailto:ops@tidings.test" || time.Until(exp) < 11*time.Hour || time.Until(exp) > 12*time.Hour+time.Minute {
			t.Errorf("VAPID claims %+v: want aud %s, the subject, exp in 12h", p.Claims, peer.Origin)
		}
		if p.TTL != "86400" {
			t.Errorf("TTL %q, want 86400", p.TTL)
		}
	}
}

// The inbox passes the conformance suite: a retried job pushes nothing
// more.
func TestConformance(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ana := world.Unique("ana")
	subscribe(t, peer, "acme", ana)
	subscribe(t, peer, "acme", ana)
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana})})
	inboxtest.Conformance(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if got, all := len(peer.Accepted()), len(peer.Pushes()); got != 2 || all != 2 {
		t.Fatalf("%d pushes accepted of %d, want 2 of 2 (one per browser, once)", got, all)
	}
}

// A push service that refuses the app's key (the subscription was made
// with another) fails the delivery as misconfigured, not as an outage.
func TestWrongVAPIDKeyIsMisconfigured(t *testing.T) {
	other, _, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	peer := webpushtest.Start(t, other)
	ana := world.Unique("ana")
	subscribe(t, peer, "acme", ana)
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana})})
	err = inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if !errors.Is(err, inbox.ErrMisconfigured) || !errors.Is(err, webpush.ErrUnauthorized) {
		t.Fatalf("Process: %v; want misconfigured, VAPID refused", err)
	}
	if got := peer.Pushes(); len(got) != 1 || !strings.Contains(got[0].Error, "application server key") {
		t.Fatalf("pushes %+v; want one refused for its key", got)
	}
}

// A subscription its push service says is gone (410) is removed: the
// event still reaches the recipient's other browser, and the next event
// does not try the gone one.
func TestGoneSubscriptionIsRemoved(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ana := world.Unique("ana")
	gone, _ := subscribe(t, peer, "acme", ana)
	kept, _ := subscribe(t, peer, "acme", ana)
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana})})
	peer.Unsubscribe(t, gone)
	issue := world.NewIssue(t)
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Cy")); err != nil {
		t.Fatalf("Process: %v; a gone subscription fails nobody", err)
	}
	ctx := activity.WithTenant(context.Background(), "acme")
	left, err := device.List(ctx, testDB, ana, device.WebPush)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || !strings.HasSuffix(left[0].Address, "/push/"+kept) {
		t.Fatalf("subscriptions left %+v; want only %s", left, kept)
	}
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Dee")); err != nil {
		t.Fatal(err)
	}
	tried := map[string][]int{}
	for _, p := range peer.Pushes() {
		tried[p.Sub] = append(tried[p.Sub], p.Status)
	}
	if fmt.Sprint(tried[gone]) != "[410]" || fmt.Sprint(tried[kept]) != "[201 201]" {
		t.Fatalf("answers per browser %v; want the gone one tried once (410), the kept one twice (201)", tried)
	}
}

// A 429 makes the job wait the push service's Retry-After, and later
// pushes to that push service wait it too, without a request; after the
// wait the event is pushed, once.
func TestRateLimitWaitsRetryAfter(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ana := world.Unique("ana")
	subscribe(t, peer, "acme", ana)
	now := time.Now()
	clock := func() time.Time { return now }
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana}), Now: clock})
	peer.Fail(t, http.StatusTooManyRequests, 1, "7")
	ev := world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")
	err := inboxtest.Process(t, testDB, in, ev)
	var ra *inbox.RetryAfterError
	if !errors.As(err, &ra) || ra.Delay != 7*time.Second || !errors.Is(err, webpush.ErrRateLimited) {
		t.Fatalf("first attempt: %v; want a rate limit asking for 7s", err)
	}
	// A retry before the wait is over makes no request.
	d := inboxtest.NewDelivery(testDB, in, ev)
	d.Attempt = 2
	now = now.Add(5 * time.Second)
	err = inboxtest.ProcessDelivery(t, in, d)
	if !errors.As(err, &ra) || ra.Delay != 2*time.Second {
		t.Fatalf("attempt within the wait: %v; want the 2s left", err)
	}
	if n := len(peer.Pushes()); n != 1 {
		t.Fatalf("%d pushes; the attempt within the wait pushed", n)
	}
	now = now.Add(2 * time.Second)
	d.Attempt = 3
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil {
		t.Fatalf("attempt after the wait: %v", err)
	}
	if got := peer.Accepted(); len(got) != 1 || len(peer.Pushes()) != 2 {
		t.Fatalf("%d accepted of %d pushes; want 1 of 2", len(got), len(peer.Pushes()))
	}
}

// Under the worker, the retry of a 429 comes after the push service's
// Retry-After, not the inbox's backoff.
func TestRateLimitUnderTheWorker(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ana := world.Unique("ana")
	subscribe(t, peer, "acme", ana)
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana}),
		Policy: inbox.Policy{RetryWindow: time.Hour, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}})
	_, attempts := world.StartWorker(t, in, inbox.BreakerConfig{})
	peer.Fail(t, http.StatusTooManyRequests, 1, "1")
	world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")
	first := addresstest.NextAttempt(t, attempts)
	if !errors.Is(first.Err, webpush.ErrRateLimited) {
		t.Fatalf("first attempt: %v; want a rate limit", first.Err)
	}
	second := addresstest.NextAttempt(t, attempts)
	if second.Err != nil {
		t.Fatalf("second attempt: %v", second.Err)
	}
	if waited := second.At.Sub(first.At); waited < 900*time.Millisecond {
		t.Errorf("retried after %v; the push service asked for 1s", waited)
	}
	if got := len(peer.Accepted()); got != 1 || len(peer.Pushes()) != 2 {
		t.Errorf("%d accepted of %d pushes; want 1 of 2", got, len(peer.Pushes()))
	}
}

// The push service is down (503) far longer than the retry window: the
// breaker opens and holds the deliveries (nothing dead-lettered); once it
// answers, each event reaches each browser exactly once.
func TestOutageIsHeldAndDeliveredOnce(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ana := world.Unique("ana")
	a1, _ := subscribe(t, peer, "acme", ana)
	a2, _ := subscribe(t, peer, "acme", ana)
	breakers := inbox.BreakerConfig{Failures: 3, OpenFor: 200 * time.Millisecond, MaxOpenFor: 400 * time.Millisecond}
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana}), Breakers: breakers,
		Policy: inbox.Policy{RetryWindow: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}})
	w, _ := world.StartWorker(t, in, breakers)
	peer.Down(t, http.StatusServiceUnavailable)
	issue := world.NewIssue(t)
	const n = 6
	want := map[int64]bool{}
	for range n {
		want[world.Record(t, "acme", issue, "comment_added", "Cy").ID] = true
	}
	opened := func() bool {
		for _, b := range in.Breakers() { // the push service's own, in the inbox
			if b.Sink == peer.Origin && b.State == inbox.BreakerOpen {
				return true
			}
		}
		return false
	}
	addresstest.WaitUntil(t, "the breaker to open", opened)
	// Stay down past several windows and probes.
	pushes := len(peer.Pushes())
	if _, err := peer.WaitFor(addresstest.Wait, func(ps []webpushtest.Push) bool { return len(ps) > pushes+1 }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
		t.Fatalf("dead letters during the outage: %+v %v", l.Letters, err)
	}
	peer.Up(t)
	if _, err := peer.WaitFor(addresstest.Wait, func(ps []webpushtest.Push) bool { return countAccepted(ps) >= 2*n }); err != nil {
		t.Fatal(err)
	}
	addresstest.WaitUntil(t, "every delivery to be done", func() bool {
		var left int64
		testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE inbox = ?`, in.Name()).Scan(&left)
		return left == 0
	})
	w.Shutdown()
	seen := map[string]int{}
	for _, p := range peer.Accepted() {
		for _, r := range message(t, p).Events {
			if !want[r.ID] {
				t.Errorf("push of an unknown event %+v", r)
			}
			seen[fmt.Sprintf("%s %d", p.Sub, r.ID)]++
		}
	}
	for id := range want {
		for _, sub := range []string{a1, a2} {
			if c := seen[fmt.Sprintf("%s %d", sub, id)]; c != 1 {
				t.Errorf("event %d reached browser %s %d times, want once", id, sub, c)
			}
		}
	}
	if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
		t.Errorf("dead letters: %+v %v", l.Letters, err)
	}
}

func countAccepted(ps []webpushtest.Push) int {
	n := 0
	for _, p := range ps {
		if p.Status == http.StatusCreated {
			n++
		}
	}
	return n
}

// Preferences and each person's choice on the webpush channel: a mute
// stops the push (and only on this channel), a batched choice gathers the
// person's events into one push when the window closes, immediate pushes
// at once; nobody left makes the delivery suppressed.
func TestPreferencesAndChoices(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ctx := activity.WithTenant(context.Background(), "acme")
	now := time.Now()
	clock := func() time.Time { return now }
	muted, batched, immediate := world.Unique("muted"), world.Unique("batched"), world.Unique("now")
	mutedSub, _ := subscribe(t, peer, "acme", muted)
	batchedSub, _ := subscribe(t, peer, "acme", batched)
	nowSub, _ := subscribe(t, peer, "acme", immediate)
	defaults := &inbox.Defaults{}
	if err := inbox.Mute(ctx, testDB, muted, webpush.Channel, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Mute(ctx, testDB, immediate, inbox.ChannelEmail, "issue", inbox.AnyAction); err != nil { // another channel's mute
		t.Fatal(err)
	}
	if err := defaults.SetChoice(ctx, testDB, batched, webpush.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, peer, webpush.Config{Defaults: defaults, Batching: &webpush.BatchingConfig{DB: testDB, Now: clock},
		Recipients: to(webpush.Recipient{ID: muted}, webpush.Recipient{ID: batched}, webpush.Recipient{ID: immediate})})
	issue := world.NewIssue(t)
	var evs []activity.Event
	for _, who := range []string{"Cy", "Dee"} {
		ev := world.Record(t, "acme", issue, "comment_added", who)
		evs = append(evs, ev)
		if err := inboxtest.Process(t, testDB, in, ev); err != nil {
			t.Fatal(err)
		}
	}
	per := func() map[string]int {
		out := map[string]int{}
		for _, p := range peer.Accepted() {
			out[p.Sub]++
		}
		return out
	}
	if got := per(); got[nowSub] != 2 || got[mutedSub] != 0 || got[batchedSub] != 0 || len(peer.Pushes()) != 2 {
		t.Fatalf("pushes per browser %v (of %d); want 2 for the immediate person, none for the muted and the batched", got, len(peer.Pushes()))
	}
	res, err := in.Flush(ctx, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := per(); got[batchedSub] != 1 {
		t.Fatalf("pushes per browser %v after the flush (%+v); want one for the batched person", got, res)
	}
	var digest webpush.Message
	for _, p := range peer.Accepted() {
		if p.Sub == batchedSub {
			digest = message(t, p)
		}
	}
	if digest.Title != "2 updates" || !strings.Contains(digest.Body, "Cy") || !strings.Contains(digest.Body, "Dee") || len(digest.Events) != 2 ||
		digest.Events[0].ID != evs[0].ID || digest.Events[1].ID != evs[1].ID {
		t.Errorf("the batch's push %+v; want both events listed", digest)
	}
	// Everyone muted: the delivery is suppressed.
	if err := inbox.Mute(ctx, testDB, immediate, webpush.Channel, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Mute(ctx, testDB, batched, webpush.Channel, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	d := inboxtest.NewDelivery(testDB, in, world.Record(t, "acme", issue, "comment_added", "Eve"))
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil || !d.Suppressed() {
		t.Fatalf("everyone muted: %v, suppressed %v; want suppressed", err, d.Suppressed())
	}
}

// A message too long for one push is cut to fit, and still decrypts.
func TestLongBatchIsCutToFit(t *testing.T) {
	var evs []activity.Event
	for i := range 200 {
		evs = append(evs, activity.Event{ID: int64(i + 1), Domain: "issue", SubjectID: "12", Action: "comment_added", ActorLabel: strings.Repeat("Ana ", 10)})
	}
	cat, err := locale.New("en")
	if err != nil {
		t.Fatal(err)
	}
	b, err := webpush.RenderBatch(cat, "en", evs).Payload()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > webpush.MaxPayload {
		t.Fatalf("payload of %d bytes, over %d", len(b), webpush.MaxPayload)
	}
	if !strings.Contains(string(b), "200 updates") || !strings.Contains(string(b), "…") {
		t.Errorf("payload %s: want the heading and a cut body", b)
	}
}

// Without Batching too, a person who muted the event on the webpush
// channel is not pushed it, and one who muted it by email still is.
func TestMuteOnTheChannel(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ctx := activity.WithTenant(context.Background(), "acme")
	muted, emailMuted := world.Unique("muted"), world.Unique("email-muted")
	mutedSub, _ := subscribe(t, peer, "acme", muted)
	otherSub, _ := subscribe(t, peer, "acme", emailMuted)
	if err := inbox.Mute(ctx, testDB, muted, webpush.Channel, "issue", "comment_added"); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Mute(ctx, testDB, emailMuted, inbox.ChannelEmail, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: muted}, webpush.Recipient{ID: emailMuted})})
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")); err != nil {
		t.Fatal(err)
	}
	got := peer.Accepted()
	if len(got) != 1 || got[0].Sub != otherSub || len(peer.Pushes()) != 1 {
		t.Fatalf("pushes %+v; want one, to %s (not %s, muted)", got, otherSub, mutedSub)
	}
}

// A push service that refuses connections is an outage of the inbox's
// sink (for the worker's breaker), not a failure of the subscription:
// the subscription stays.
func TestRefusedConnectionIsAnOutage(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	ana := world.Unique("ana")
	ctx := activity.WithTenant(context.Background(), "acme")
	a := peer.Subscribe(t, ana, world.Unique("browser"))
	a.Address = "https://" + closed + "/push/nobody"
	if _, err := device.Register(ctx, testDB, a); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, peer, webpush.Config{Recipients: to(webpush.Recipient{ID: ana})})
	err = inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	var ue *inbox.UnreachableError
	if !errors.As(err, &ue) || ue.Sink != webpush.Origin(a.Address) || !errors.Is(err, webpush.ErrUnavailable) {
		t.Fatalf("Process: %v; want the push service %s unreachable", err, webpush.Origin(a.Address))
	}
	if left, err := device.List(ctx, testDB, ana, device.WebPush); err != nil || len(left) != 1 {
		t.Fatalf("subscriptions %+v %v; want it kept", left, err)
	}
}

// With Batching, a batched person's event joins their window once: the
// conformance suite's retry adds no window item.
func TestConformanceBatched(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ctx := activity.WithTenant(context.Background(), "acme")
	ana := world.Unique("ana")
	subscribe(t, peer, "acme", ana)
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, testDB, ana, webpush.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, peer, webpush.Config{Defaults: defaults, Batching: &webpush.BatchingConfig{DB: testDB}, Recipients: to(webpush.Recipient{ID: ana})})
	inboxtest.Conformance(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"), "batch_items", "batch_windows")
	if n := len(peer.Pushes()); n != 0 {
		t.Fatalf("%d pushes while the window is open", n)
	}
}

// An event that went into a batched person's window is not a suppressed
// delivery, even when the people told at once have no browser subscribed.
func TestBatchedIsNotSuppressed(t *testing.T) {
	peer := webpushtest.Start(t, vapidPublic)
	ctx := activity.WithTenant(context.Background(), "acme")
	ana, bob := world.Unique("ana"), world.Unique("bob") // bob has no browser
	subscribe(t, peer, "acme", ana)
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, testDB, ana, webpush.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, peer, webpush.Config{Defaults: defaults, Batching: &webpush.BatchingConfig{DB: testDB},
		Recipients: to(webpush.Recipient{ID: ana}, webpush.Recipient{ID: bob})})
	d := inboxtest.NewDelivery(testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil || d.Suppressed() {
		t.Fatalf("Process: %v, suppressed %v; want done (ana's window took it)", err, d.Suppressed())
	}
}
