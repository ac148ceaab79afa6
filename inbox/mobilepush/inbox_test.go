package mobilepush_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apns"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apnstest"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcm"
)

// An event reaches every device of its recipients of the provider's kind
// in the event's tenant, worded in each recipient's language; FCM's peer
// checked the OAuth assertion and bearer token, APNs's the ES256 provider
// token, the topic, and that it spoke HTTP/2.
func TestPushPerLocale(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
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
		phone, tablet, bobs, globex := p.token(), p.token(), p.token(), p.token()
		register(t, "acme", ana, p.kind, phone)
		register(t, "acme", ana, p.kind, tablet)
		register(t, "acme", bob, p.kind, bobs)
		register(t, "globex", ana, p.kind, globex)
		other := device.FCM
		if p.kind == device.FCM {
			other = device.APNs
		}
		register(t, "acme", bob, other, map[device.Kind]string{device.FCM: "other-kind-token", device.APNs: strings.Repeat("ab", 32)}[other])
		in := newInbox(t, p.provider(nil), mobilepush.Config{Catalog: cat,
			Recipients: to(mobilepush.Recipient{ID: ana, Locale: "de"}, mobilepush.Recipient{ID: bob})})
		issue := world.NewIssue(t)
		if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Cy")); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{phone: fmt.Sprintf("Cy hat #%d kommentiert", issue), tablet: fmt.Sprintf("Cy hat #%d kommentiert", issue),
			bobs: fmt.Sprintf("Cy commented on #%d", issue)}
		got := p.pushes()
		if len(got) != 3 {
			t.Fatalf("%d pushes, want 3 (Ana's two devices, Bob's one; not globex's, not the other service's): %+v", len(got), got)
		}
		for _, x := range got {
			if x.Status != p.okStatus || x.Title != want[x.Token] || x.Tag != fmt.Sprintf("issue/%d", issue) {
				t.Errorf("push %+v; want %d with title %q", x, p.okStatus, want[x.Token])
			}
			if p.name == "apns" && x.Proto != "HTTP/2.0" {
				t.Errorf("APNs push over %s", x.Proto)
			}
		}
	})
}

// The inbox passes the conformance suite: a retried job pushes nothing
// more.
func TestConformance(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		ana := world.Unique("ana")
		register(t, "acme", ana, p.kind, p.token())
		register(t, "acme", ana, p.kind, p.token())
		in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana})})
		inboxtest.Conformance(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
		if got, all := len(p.accepted()), len(p.pushes()); got != 2 || all != 2 {
			t.Fatalf("%d pushes accepted of %d, want 2 of 2", got, all)
		}
	})
}

// A token the service says is gone (FCM UNREGISTERED 404, APNs 410
// Unregistered) is removed: the event still reaches the person's other
// device, and the next event does not try the gone one.
func TestGoneTokenIsRemoved(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		ana := world.Unique("ana")
		gone, kept := p.token(), p.token()
		register(t, "acme", ana, p.kind, gone)
		register(t, "acme", ana, p.kind, kept)
		p.gone(gone)
		in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana})})
		issue := world.NewIssue(t)
		if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Cy")); err != nil {
			t.Fatalf("Process: %v; a gone token fails nobody", err)
		}
		left, err := device.List(activity.WithTenant(context.Background(), "acme"), testDB, ana, p.kind)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 || left[0].Address != kept {
			t.Fatalf("tokens left %+v; want only the kept one", left)
		}
		if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Dee")); err != nil {
			t.Fatal(err)
		}
		tried := map[string][]string{}
		for _, x := range p.pushes() {
			tried[x.Token] = append(tried[x.Token], fmt.Sprintf("%d%s", x.Status, x.Reason))
		}
		wantGone := map[string]string{"fcm": "[404UNREGISTERED]", "apns": "[410Unregistered]"}[p.name]
		if fmt.Sprint(tried[gone]) != wantGone || fmt.Sprint(tried[kept]) != "[200 200]" {
			t.Fatalf("answers per token %v; want the gone one tried once (%s), the kept one twice", tried, wantGone)
		}
	})
}

// APNs's 400 BadDeviceToken (a sandbox token sent to production) removes
// the token too.
func TestAPNsBadDeviceTokenIsRemoved(t *testing.T) {
	p, s := apnsPeer(t)
	ana := world.Unique("ana")
	bad := p.token()
	register(t, "acme", ana, p.kind, bad)
	s.Bad(bad)
	in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana})})
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")); err != nil {
		t.Fatal(err)
	}
	if left, err := device.List(activity.WithTenant(context.Background(), "acme"), testDB, ana, p.kind); err != nil || len(left) != 0 {
		t.Fatalf("tokens left %+v %v; want none", left, err)
	}
}

// A 429 makes the job wait the service's Retry-After, and later pushes
// wait it too, without a request; after the wait the event is pushed,
// once. APNs sends no Retry-After: the inbox waits a minute.
func TestRateLimitWaitsRetryAfter(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		ana := world.Unique("ana")
		register(t, "acme", ana, p.kind, p.token())
		now := time.Now()
		clock := func() time.Time { return now }
		in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana}), Now: clock})
		retryAfter, want := "7", 7*time.Second
		if p.name == "apns" {
			retryAfter, want = "", time.Minute
		}
		p.fail(http.StatusTooManyRequests, 1, retryAfter)
		ev := world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")
		err := inboxtest.Process(t, testDB, in, ev)
		var ra *inbox.RetryAfterError
		if !errors.As(err, &ra) || ra.Delay != want || !errors.Is(err, mobilepush.ErrRateLimited) {
			t.Fatalf("first attempt: %v; want a rate limit asking for %v", err, want)
		}
		d := inboxtest.NewDelivery(testDB, in, ev)
		d.Attempt = 2
		now = now.Add(want - 2*time.Second)
		if err := inboxtest.ProcessDelivery(t, in, d); !errors.As(err, &ra) || ra.Delay != 2*time.Second {
			t.Fatalf("attempt within the wait: %v; want the 2s left", err)
		}
		if n := len(p.pushes()); n != 1 {
			t.Fatalf("%d requests; the attempt within the wait pushed", n)
		}
		now = now.Add(2 * time.Second)
		d.Attempt = 3
		if err := inboxtest.ProcessDelivery(t, in, d); err != nil {
			t.Fatalf("attempt after the wait: %v", err)
		}
		if got := p.accepted(); len(got) != 1 || len(p.pushes()) != 2 {
			t.Fatalf("%d accepted of %d requests; want 1 of 2", len(got), len(p.pushes()))
		}
	})
}

// A 503 with Retry-After is an outage of the sink (for the breaker) that
// also waits the service's Retry-After.
func TestUnavailableWithRetryAfter(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		ana := world.Unique("ana")
		register(t, "acme", ana, p.kind, p.token())
		in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana})})
		p.fail(http.StatusServiceUnavailable, 1, "30")
		err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
		var ra *inbox.RetryAfterError
		if !errors.Is(err, inbox.ErrSinkDown) || !errors.Is(err, mobilepush.ErrUnavailable) || !errors.As(err, &ra) || ra.Delay != 30*time.Second {
			t.Fatalf("Process: %v; want the sink down, retried after 30s", err)
		}
	})
}

// The service is down (503) far longer than the retry window: the breaker
// opens and holds the deliveries (nothing dead-lettered); once it
// answers, each event reaches each device exactly once.
func TestOutageIsHeldAndDeliveredOnce(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		ana := world.Unique("ana")
		t1, t2 := p.token(), p.token()
		register(t, "acme", ana, p.kind, t1)
		register(t, "acme", ana, p.kind, t2)
		in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana}),
			Policy: inbox.Policy{RetryWindow: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}})
		w, _ := world.StartWorker(t, in, inbox.BreakerConfig{Failures: 3, OpenFor: 200 * time.Millisecond, MaxOpenFor: 400 * time.Millisecond})
		p.down(http.StatusServiceUnavailable)
		issue := world.NewIssue(t)
		const n = 6
		want := map[string]bool{}
		for i := range n {
			world.Record(t, "acme", issue, "comment_added", fmt.Sprintf("Actor%d", i))
			want[fmt.Sprintf("Actor%d", i)] = true
		}
		addresstest.WaitUntil(t, "the breaker to open", func() bool {
			for _, b := range w.Breakers() {
				if b.Sink == in.Sink() && b.State == inbox.BreakerOpen {
					return true
				}
			}
			return false
		})
		before := len(p.pushes())
		addresstest.WaitUntil(t, "probes during the outage", func() bool { return len(p.pushes()) > before+1 })
		ctx := context.Background()
		if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
			t.Fatalf("dead letters during the outage: %+v %v", l.Letters, err)
		}
		p.up()
		addresstest.WaitUntil(t, "every push after the outage", func() bool { return len(p.accepted()) >= 2*n })
		addresstest.WaitUntil(t, "every delivery to be done", func() bool {
			var left int64
			testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE inbox = ?`, in.Name()).Scan(&left)
			return left == 0
		})
		w.Shutdown()
		seen := map[string]int{}
		for _, x := range p.accepted() {
			actor, _, _ := strings.Cut(x.Title, ":")
			if !want[actor] {
				t.Errorf("push of an unknown event %q", x.Title)
			}
			seen[x.Token+" "+actor]++
		}
		for actor := range want {
			for _, tok := range []string{t1, t2} {
				if c := seen[tok+" "+actor]; c != 1 {
					t.Errorf("%s's event reached a device %d times, want once", actor, c)
				}
			}
		}
		if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
			t.Errorf("dead letters: %+v %v", l.Letters, err)
		}
	})
}

// Refused credentials are a misconfiguration: FCM's token endpoint
// refusing the service account's assertion, APNs refusing a provider
// token signed with another key.
func TestRefusedCredentialsAreMisconfigured(t *testing.T) {
	t.Run("fcm", func(t *testing.T) {
		p, s := fcmPeer(t)
		ana := world.Unique("ana")
		register(t, "acme", ana, p.kind, p.token())
		s.TokenEndpoint(http.StatusBadRequest)
		in := newInbox(t, p.provider(nil), mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana})})
		err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
		if !errors.Is(err, inbox.ErrMisconfigured) || !errors.Is(err, mobilepush.ErrUnauthorized) {
			t.Fatalf("Process: %v; want misconfigured", err)
		}
	})
	t.Run("apns", func(t *testing.T) {
		p, _ := apnsPeer(t)
		other := apnstest.Start(t) // another key
		ana := world.Unique("ana")
		register(t, "acme", ana, p.kind, p.token())
		s := apnstest.Start(t)
		prov, err := apns.New(apns.Config{TeamID: apnstest.TeamID, KeyID: apnstest.KeyID, PrivateKey: other.PrivateKey(), Topic: apnstest.Topic,
			BaseURL: s.URL, HTTPClient: s.Client()})
		if err != nil {
			t.Fatal(err)
		}
		in := newInbox(t, prov, mobilepush.Config{Recipients: to(mobilepush.Recipient{ID: ana})})
		err = inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
		var pe *mobilepush.PushError
		if !errors.Is(err, inbox.ErrMisconfigured) || !errors.As(err, &pe) || pe.Reason != "InvalidProviderToken" {
			t.Fatalf("Process: %v; want misconfigured, InvalidProviderToken", err)
		}
	})
}

// FCM: one access token serves many pushes; a revoked one is replaced
// once and the push goes through.
func TestFCMAccessTokenIsCachedAndRenewed(t *testing.T) {
	p, s := fcmPeer(t)
	prov := p.provider(nil)
	ctx := context.Background()
	for i := range 5 {
		if err := prov.Push(ctx, p.token(), mobilepush.Message{Title: fmt.Sprint("hello ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.TokenCalls(); n != 1 {
		t.Fatalf("%d token requests for 5 pushes, want 1", n)
	}
	s.Revoke()
	if err := prov.Push(ctx, p.token(), mobilepush.Message{Title: "after revoke"}); err != nil {
		t.Fatalf("push after a revoked token: %v", err)
	}
	if n := s.TokenCalls(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	if _, err := fcm.New(fcm.Config{ServiceAccount: []byte(`{}`)}); !errors.Is(err, inbox.ErrInvalidConfig) {
		t.Fatalf("New with an empty key: %v", err)
	}
}

// Preferences and choices on the mobilepush channel: a mute stops the
// push, a batched choice gathers the person's events into one push.
func TestPreferencesAndChoices(t *testing.T) {
	p, _ := fcmPeer(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	now := time.Now()
	muted, batched, immediate := world.Unique("muted"), world.Unique("batched"), world.Unique("now")
	mutedT, batchedT, nowT := p.token(), p.token(), p.token()
	register(t, "acme", muted, p.kind, mutedT)
	register(t, "acme", batched, p.kind, batchedT)
	register(t, "acme", immediate, p.kind, nowT)
	defaults := &inbox.Defaults{}
	if err := inbox.Mute(ctx, testDB, muted, mobilepush.Channel, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	if err := defaults.SetChoice(ctx, testDB, batched, mobilepush.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, p.provider(nil), mobilepush.Config{Defaults: defaults, Batching: &mobilepush.BatchingConfig{DB: testDB, Now: func() time.Time { return now }},
		Recipients: to(mobilepush.Recipient{ID: muted}, mobilepush.Recipient{ID: batched}, mobilepush.Recipient{ID: immediate})})
	issue := world.NewIssue(t)
	for _, who := range []string{"Cy", "Dee"} {
		if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", who)); err != nil {
			t.Fatal(err)
		}
	}
	per := func() map[string][]pushed {
		out := map[string][]pushed{}
		for _, x := range p.accepted() {
			out[x.Token] = append(out[x.Token], x)
		}
		return out
	}
	if got := per(); len(got[nowT]) != 2 || len(got[mutedT]) != 0 || len(got[batchedT]) != 0 {
		t.Fatalf("pushes per device %v; want 2 for the immediate person only", got)
	}
	if _, err := in.Flush(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := per()[batchedT]
	if len(got) != 1 || got[0].Title != "2 updates" || !strings.Contains(got[0].Body, "Cy") || !strings.Contains(got[0].Body, "Dee") {
		t.Fatalf("the batched person's pushes %+v; want one listing both events", got)
	}
}

// An event that went into a batched person's window is not a suppressed
// delivery, even when the people told at once have no device.
func TestBatchedIsNotSuppressed(t *testing.T) {
	p, _ := fcmPeer(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	ana, bob := world.Unique("ana"), world.Unique("bob") // bob has no device
	register(t, "acme", ana, p.kind, p.token())
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, testDB, ana, mobilepush.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, p.provider(nil), mobilepush.Config{Defaults: defaults, Batching: &mobilepush.BatchingConfig{DB: testDB},
		Recipients: to(mobilepush.Recipient{ID: ana}, mobilepush.Recipient{ID: bob})})
	d := inboxtest.NewDelivery(testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil || d.Suppressed() {
		t.Fatalf("Process: %v, suppressed %v; want done (ana's window took it)", err, d.Suppressed())
	}
	if n := len(p.pushes()); n != 0 {
		t.Fatalf("%d pushes while the window is open", n)
	}
}
