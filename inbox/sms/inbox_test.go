package sms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
)

// An event reaches every number of its recipients in the event's tenant,
// once per number, worded in each recipient's language; the local Twilio
// checks the account, the basic auth and the form.
func TestTextPerLocale(t *testing.T) {
	peer := twiliotest.Start(t)
	cat, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	for loc, f := range map[string]string{"en": "%[1]s commented on %[3]s", "de": "%[1]s hat %[3]s kommentiert"} {
		if err := cat.Set(loc, "issue.comment_added.title", f); err != nil {
			t.Fatal(err)
		}
	}
	ana, bob, cy := world.Unique("ana"), world.Unique("bob"), world.Unique("cy")
	anaMobile, anaWork, bobs, shared, globex := newNumber(), newNumber(), newNumber(), newNumber(), newNumber()
	register(t, "acme", ana, anaMobile)
	register(t, "acme", ana, anaWork)
	register(t, "acme", bob, bobs)
	register(t, "acme", bob, shared)
	register(t, "acme", cy, shared)    // a household's number: one message
	register(t, "globex", ana, globex) // another tenant's number of Ana's
	in := newInbox(t, provider(t, peer, ""), sms.Config{Catalog: cat,
		Recipients: to(sms.Recipient{ID: ana, Locale: "de"}, sms.Recipient{ID: bob}, sms.Recipient{ID: cy}),
		URL:        func(ev activity.Event) string { return "https://app.test/i/" + ev.SubjectID }})
	issue := world.NewIssue(t)
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Dee")); err != nil {
		t.Fatal(err)
	}
	de := fmt.Sprintf("Dee hat #%d kommentiert https://app.test/i/%d", issue, issue)
	en := fmt.Sprintf("Dee commented on #%d https://app.test/i/%d", issue, issue)
	want := map[string]string{anaMobile: de, anaWork: de, bobs: en, shared: en}
	got := peer.Messages()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d (one per number, the shared one once, none to globex's): %+v", len(got), len(want), got)
	}
	for _, m := range got {
		if m.Status != http.StatusCreated || m.Body != want[m.To] || m.From != "+15005550006" || m.StatusCallback != "" {
			t.Errorf("message %+v: want 201 with body %q", m, want[m.To])
		}
	}
}

// A long title is cut to MaxRunes with "..." (GSM 7-bit, not "…"), the
// link kept whole.
func TestLongTextIsCut(t *testing.T) {
	cat, err := locale.New("en")
	if err != nil {
		t.Fatal(err)
	}
	ev := activity.Event{ID: 1, Domain: "issue", Action: "comment_added", SubjectID: "12", ActorLabel: strings.Repeat("Ana Lovelace ", 30)}
	got := sms.Text(cat, "en", ev, "https://app.test/i/12", 160)
	if n := utf8.RuneCountInString(got); n > 160 || !strings.HasSuffix(got, "... https://app.test/i/12") {
		t.Fatalf("text of %d runes: %q", n, got)
	}
}

// The inbox passes the conformance suite with each provider: a retried
// job sends nothing more.
func TestConformance(t *testing.T) {
	for _, pc := range providers {
		t.Run(pc.name, func(t *testing.T) {
			peer := pc.start(t)
			ana := world.Unique("ana")
			register(t, "acme", ana, newNumber())
			register(t, "acme", ana, newNumber())
			in := newInbox(t, peer.Provider(t, false), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
			if in.Sink() != pc.sink {
				t.Fatalf("sink %q, want %s", in.Sink(), pc.sink)
			}
			inboxtest.Conformance(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
			if got, all := len(accepted(peer.Sent())), len(peer.Sent()); got != 2 || all != 2 {
				t.Fatalf("%d messages accepted of %d, want 2 of 2 (one per number, once)", got, all)
			}
		})
	}
}

// Wrong credentials (Twilio's 20003; Vonage's status 4, in a 200) fail
// the delivery as misconfigured, not as an outage.
func TestWrongCredentialsAreMisconfigured(t *testing.T) {
	for _, pc := range providers {
		t.Run(pc.name, func(t *testing.T) {
			peer := pc.start(t)
			ana := world.Unique("ana")
			register(t, "acme", ana, newNumber())
			in := newInbox(t, peer.Provider(t, true), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
			err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
			var se *sms.SendError
			if !errors.Is(err, inbox.ErrMisconfigured) || !errors.Is(err, sms.ErrUnauthorized) || !errors.As(err, &se) || se.Code != pc.unauthorized {
				t.Fatalf("Process: %v; want misconfigured, code %s", err, pc.unauthorized)
			}
		})
	}
}

// A number whose owner texted STOP (Twilio's 21610; Vonage's status 7,
// the account's barred list) is suppressed and removed, an invalid one
// (21211; status 6) removed; the event still reaches the recipient's other
// number, and the next event tries neither, even after the app registers
// the opted-out number again.
func TestStopAndInvalidNumbersAreRemoved(t *testing.T) {
	for _, pc := range providers {
		t.Run(pc.name, func(t *testing.T) {
			peer := pc.start(t)
			ana := world.Unique("ana")
			stopped, invalid, kept := newNumber(), newNumber(), newNumber()
			for _, n := range []string{stopped, invalid, kept} {
				register(t, "acme", ana, n)
			}
			peer.OptOut(stopped)
			peer.Invalid(invalid)
			in := newInbox(t, peer.Provider(t, false), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
			issue := world.NewIssue(t)
			if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Cy")); err != nil {
				t.Fatalf("Process: %v; a dead number fails nobody", err)
			}
			ctx := activity.WithTenant(context.Background(), "acme")
			left, err := device.List(ctx, testDB, ana, device.Phone)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 1 || left[0].Address != kept {
				t.Fatalf("numbers left %+v; want only %s", left, kept)
			}
			if s, err := inbox.Suppressed(ctx, testDB, sms.Channel, []string{stopped, invalid}); err != nil || len(s) != 1 || s[stopped].Reason != inbox.ReasonUnsubscribe {
				t.Fatalf("suppressed %+v %v; want the STOP number, reason unsubscribe", s, err)
			}
			register(t, "acme", ana, stopped) // the app syncs the person's profile again
			if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Dee")); err != nil {
				t.Fatal(err)
			}
			tried := map[string][]string{}
			for _, m := range peer.Sent() {
				tried[m.To] = append(tried[m.To], m.Code)
			}
			if fmt.Sprint(tried[stopped]) != "["+pc.optedOut+"]" || fmt.Sprint(tried[invalid]) != "["+pc.invalid+"]" || fmt.Sprint(tried[kept]) != "[0 0]" {
				t.Fatalf("codes per number %v; want the STOP and invalid numbers tried once, the kept one twice", tried)
			}
		})
	}
}

// A 429 makes the job wait the provider's Retry-After, and later sends
// wait it too, without a request; after the wait the event is sent, once.
func TestRateLimitWaitsRetryAfter(t *testing.T) {
	for _, pc := range providers {
		t.Run(pc.name, func(t *testing.T) {
			peer := pc.start(t)
			now := time.Now()
			waitsOut(t, peer, peer.Provider(t, false), &now, func() { peer.Fail(http.StatusTooManyRequests, 1, "7") }, 7*time.Second)
		})
	}
}

// waitsOut checks that a send failed by fail makes the job wait wait (by
// the clock *now), that an attempt within the wait sends nothing and one
// after it sends the event, once.
func waitsOut(t *testing.T, peer peer, p sms.Provider, now *time.Time, fail func(), wait time.Duration) {
	t.Helper()
	ana := world.Unique("ana")
	register(t, "acme", ana, newNumber())
	in := newInbox(t, p, sms.Config{Recipients: to(sms.Recipient{ID: ana}), Now: func() time.Time { return *now }})
	fail()
	ev := world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")
	err := inboxtest.Process(t, testDB, in, ev)
	var ra *inbox.RetryAfterError
	if !errors.As(err, &ra) || ra.Delay != wait || !errors.Is(err, sms.ErrRateLimited) {
		t.Fatalf("first attempt: %v; want a rate limit asking for %s", err, wait)
	}
	d := inboxtest.NewDelivery(testDB, in, ev)
	d.Attempt = 2
	*now = now.Add(wait - 2*time.Second)
	if err := inboxtest.ProcessDelivery(t, in, d); !errors.As(err, &ra) || ra.Delay != 2*time.Second {
		t.Fatalf("attempt within the wait: %v; want the 2s left", err)
	}
	if n := len(peer.Sent()); n != 1 {
		t.Fatalf("%d requests; the attempt within the wait sent one", n)
	}
	*now = now.Add(2 * time.Second)
	d.Attempt = 3
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil {
		t.Fatalf("attempt after the wait: %v", err)
	}
	if got := accepted(peer.Sent()); len(got) != 1 || len(peer.Sent()) != 2 {
		t.Fatalf("%d accepted of %d requests; want 1 of 2", len(got), len(peer.Sent()))
	}
}

// Under the worker, the retry of a 429 comes after Twilio's Retry-After.
func TestRateLimitUnderTheWorker(t *testing.T) {
	peer := twiliotest.Start(t)
	ana := world.Unique("ana")
	register(t, "acme", ana, newNumber())
	in := newInbox(t, provider(t, peer, ""), sms.Config{Recipients: to(sms.Recipient{ID: ana}),
		Policy: inbox.Policy{RetryWindow: time.Hour, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}})
	_, attempts := world.StartWorker(t, in, inbox.BreakerConfig{})
	peer.Fail(http.StatusTooManyRequests, 1, "1")
	world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")
	first := addresstest.NextAttempt(t, attempts)
	if !errors.Is(first.Err, sms.ErrRateLimited) {
		t.Fatalf("first attempt: %v; want a rate limit", first.Err)
	}
	second := addresstest.NextAttempt(t, attempts)
	if second.Err != nil {
		t.Fatalf("second attempt: %v", second.Err)
	}
	if waited := second.At.Sub(first.At); waited < 900*time.Millisecond {
		t.Errorf("retried after %v; Twilio asked for 1s", waited)
	}
	if got := len(peer.Accepted()); got != 1 || len(peer.Messages()) != 2 {
		t.Errorf("%d accepted of %d requests; want 1 of 2", got, len(peer.Messages()))
	}
}

// The provider is down (503) far longer than the retry window: the breaker
// opens and holds the deliveries (nothing dead-lettered); once it
// answers, each event reaches each number exactly once.
func TestOutageIsHeldAndDeliveredOnce(t *testing.T) {
	for _, pc := range providers {
		t.Run(pc.name, func(t *testing.T) { outageIsHeldAndDeliveredOnce(t, pc) })
	}
}

func outageIsHeldAndDeliveredOnce(t *testing.T, pc providerCase) {
	peer := pc.start(t)
	ana := world.Unique("ana")
	n1, n2 := newNumber(), newNumber()
	register(t, "acme", ana, n1)
	register(t, "acme", ana, n2)
	in := newInbox(t, peer.Provider(t, false), sms.Config{Recipients: to(sms.Recipient{ID: ana}), MaxRunes: 400,
		Policy: inbox.Policy{RetryWindow: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}})
	w, _ := world.StartWorker(t, in, inbox.BreakerConfig{Failures: 3, OpenFor: 200 * time.Millisecond, MaxOpenFor: 400 * time.Millisecond})
	peer.Down(http.StatusServiceUnavailable)
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
	before := len(peer.Sent())
	if err := peer.WaitFor(addresstest.Wait, func(ms []sent) bool { return len(ms) > before+1 }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
		t.Fatalf("dead letters during the outage: %+v %v", l.Letters, err)
	}
	peer.Up()
	if err := peer.WaitFor(addresstest.Wait, func(ms []sent) bool { return len(accepted(ms)) >= 2*n }); err != nil {
		t.Fatal(err)
	}
	addresstest.WaitUntil(t, "every delivery to be done", func() bool {
		var left int64
		testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE inbox = ?`, in.Name()).Scan(&left)
		return left == 0
	})
	w.Shutdown()
	seen := map[string]int{}
	for _, m := range accepted(peer.Sent()) {
		actor, _, _ := strings.Cut(m.Text, ":")
		if !want[actor] {
			t.Errorf("message of an unknown event %q", m.Text)
		}
		seen[m.To+" "+actor]++
	}
	for actor := range want {
		for _, num := range []string{n1, n2} {
			if c := seen[num+" "+actor]; c != 1 {
				t.Errorf("%s's event reached %s %d times, want once", actor, num, c)
			}
		}
	}
	if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
		t.Errorf("dead letters: %+v %v", l.Letters, err)
	}
}

// Preferences and choices on the sms channel: a mute stops the text, a
// batched choice gathers the person's events into one message when the
// window closes, immediate texts at once.
func TestPreferencesAndChoices(t *testing.T) {
	peer := twiliotest.Start(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	now := time.Now()
	muted, batched, immediate := world.Unique("muted"), world.Unique("batched"), world.Unique("now")
	mutedN, batchedN, nowN := newNumber(), newNumber(), newNumber()
	register(t, "acme", muted, mutedN)
	register(t, "acme", batched, batchedN)
	register(t, "acme", immediate, nowN)
	defaults := &inbox.Defaults{}
	if err := inbox.Mute(ctx, testDB, muted, sms.Channel, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Mute(ctx, testDB, immediate, inbox.ChannelEmail, "issue", inbox.AnyAction); err != nil { // another channel's mute
		t.Fatal(err)
	}
	if err := defaults.SetChoice(ctx, testDB, batched, sms.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, provider(t, peer, ""), sms.Config{Defaults: defaults, Batching: &sms.BatchingConfig{DB: testDB, Now: func() time.Time { return now }},
		Recipients: to(sms.Recipient{ID: muted}, sms.Recipient{ID: batched}, sms.Recipient{ID: immediate})})
	issue := world.NewIssue(t)
	for _, who := range []string{"Cy", "Dee"} {
		if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", who)); err != nil {
			t.Fatal(err)
		}
	}
	per := func() map[string][]string {
		out := map[string][]string{}
		for _, m := range peer.Accepted() {
			out[m.To] = append(out[m.To], m.Body)
		}
		return out
	}
	if got := per(); len(got[nowN]) != 2 || len(got[mutedN]) != 0 || len(got[batchedN]) != 0 {
		t.Fatalf("messages per number %v; want 2 for the immediate person only", got)
	}
	if _, err := in.Flush(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := per()[batchedN]
	if len(got) != 1 || !strings.HasPrefix(got[0], "2 updates: ") || !strings.Contains(got[0], "Cy") || !strings.Contains(got[0], "Dee") {
		t.Fatalf("the batched person's messages %q; want one listing both events", got)
	}
}

// Delivery reports: a signed report of a message undelivered with 30005
// (unknown handset) removes the number in the message's tenant only; 30003
// (handset off) does not; a report with a wrong signature is refused and
// changes nothing; every verified report reaches OnStatus.
func TestStatusCallback(t *testing.T) {
	peer := twiliotest.Start(t)
	got := make(chan twilio.Status, 10)
	var handler http.Handler
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(cb.Close)
	h, err := twilio.NewStatusHandler(twilio.StatusConfig{AuthToken: peer.AuthToken, URL: cb.URL + "/twilio/status", DB: testDB,
		Logger: addresstest.Logger(), OnStatus: func(_ context.Context, s twilio.Status) { got <- s }})
	if err != nil {
		t.Fatal(err)
	}
	handler = h
	ana := world.Unique("ana")
	dead, off := newNumber(), newNumber()
	register(t, "acme", ana, dead)
	register(t, "acme", ana, off)
	register(t, "globex", ana, dead) // the same number in another tenant
	in := newInbox(t, provider(t, peer, cb.URL+"/twilio/status"), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")); err != nil {
		t.Fatal(err)
	}
	sid := map[string]string{}
	for _, m := range peer.Accepted() {
		sid[m.To] = m.SID
		if !strings.Contains(m.StatusCallback, twilio.TenantParam+"=acme") {
			t.Fatalf("StatusCallback %q does not name the tenant", m.StatusCallback)
		}
	}
	ctx := context.Background()
	// A forged report (another token): refused, nothing removed.
	if code, err := peer.CallbackSigned(ctx, sid[dead], "undelivered", "30005", "forged"); err != nil || code != http.StatusForbidden {
		t.Fatalf("forged report: %d %v; want 403", code, err)
	}
	numbers := func(tenant string) []string { return numbersOf(t, tenant, ana) }
	if n := numbers("acme"); len(n) != 2 {
		t.Fatalf("after a forged report, acme numbers %v; want both", n)
	}
	for _, c := range []struct{ to, status, code string }{{off, "undelivered", "30003"}, {dead, "sent", ""}, {dead, "undelivered", "30005"}} {
		if code, err := peer.Callback(ctx, sid[c.to], c.status, c.code); err != nil || code != http.StatusOK {
			t.Fatalf("report %+v: %d %v", c, code, err)
		}
		s := <-got
		if s.MessageSID != sid[c.to] || s.Status != c.status || s.ErrorCode != c.code || s.Tenant != "acme" || s.To != c.to {
			t.Fatalf("OnStatus got %+v for %+v", s, c)
		}
	}
	if n := numbers("acme"); len(n) != 1 || n[0] != off {
		t.Fatalf("acme numbers %v; want only %s (30005 removes, 30003 does not)", n, off)
	}
	if n := numbers("globex"); len(n) != 1 || n[0] != dead {
		t.Fatalf("globex numbers %v; an acme report removed another tenant's number", n)
	}
	select {
	case s := <-got:
		t.Fatalf("OnStatus told of a refused report: %+v", s)
	default:
	}
}

// An event that went into a batched person's window is not a suppressed
// delivery, even when the people told at once have no number.
func TestBatchedIsNotSuppressed(t *testing.T) {
	peer := twiliotest.Start(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	ana, bob := world.Unique("ana"), world.Unique("bob") // bob has no number
	register(t, "acme", ana, newNumber())
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, testDB, ana, sms.Channel, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, provider(t, peer, ""), sms.Config{Defaults: defaults, Batching: &sms.BatchingConfig{DB: testDB},
		Recipients: to(sms.Recipient{ID: ana}, sms.Recipient{ID: bob})})
	d := inboxtest.NewDelivery(testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil || d.Suppressed() {
		t.Fatalf("Process: %v, suppressed %v; want done (ana's window took it)", err, d.Suppressed())
	}
	if n := len(peer.Messages()); n != 0 {
		t.Fatalf("%d messages while the window is open", n)
	}
}

// A number two people share, the first of whom muted SMS: the one who
// wants the event is texted on it (the muted person does not claim it).
func TestSharedNumberOfAMutedPerson(t *testing.T) {
	peer := twiliotest.Start(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	muted, wants := world.Unique("muted"), world.Unique("wants")
	shared := newNumber()
	register(t, "acme", muted, shared)
	register(t, "acme", wants, shared)
	if err := inbox.Mute(ctx, testDB, muted, sms.Channel, "issue", inbox.AnyAction); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, provider(t, peer, ""), sms.Config{Recipients: to(sms.Recipient{ID: muted}, sms.Recipient{ID: wants})})
	d := inboxtest.NewDelivery(testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if err := inboxtest.ProcessDelivery(t, in, d); err != nil || d.Suppressed() {
		t.Fatalf("Process: %v, suppressed %v; want the shared number texted", err, d.Suppressed())
	}
	if got := peer.Accepted(); len(got) != 1 || got[0].To != shared {
		t.Fatalf("texts %+v; want one to the shared number", got)
	}
}
