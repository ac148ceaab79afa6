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

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
	"github.com/tidingsdev/tidings/inbox/sms/vonagetest"
)

// The tests of this file are Twilio's (inbox_test.go) with the second
// provider, Vonage's SMS API, behind the same sms.Provider interface.

// vonageProvider is a Vonage provider for peer; callback is the
// delivery-receipt URL ("" for none).
func vonageProvider(t *testing.T, peer *vonagetest.Server, callback string) *vonage.Provider {
	t.Helper()
	p, err := vonage.New(vonage.Config{APIKey: peer.APIKey, APISecret: peer.APISecret, From: "+15005550006",
		BaseURL: peer.URL, StatusCallback: callback})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The inbox with Vonage passes the conformance suite: a retried job sends
// nothing more.
func TestVonageConformance(t *testing.T) {
	peer := vonagetest.Start(t)
	ana := world.Unique("ana")
	register(t, "acme", ana, newNumber())
	register(t, "acme", ana, newNumber())
	in := newInbox(t, vonageProvider(t, peer, ""), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
	if in.Sink() != "sms:vonage" {
		t.Fatalf("sink %q, want sms:vonage", in.Sink())
	}
	inboxtest.Conformance(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	if got, all := len(peer.Accepted()), len(peer.Messages()); got != 2 || all != 2 {
		t.Fatalf("%d messages accepted of %d, want 2 of 2 (one per number, once)", got, all)
	}
}

// Wrong credentials (status 4, in a 200) fail the delivery as
// misconfigured, not as an outage.
func TestVonageWrongSecretIsMisconfigured(t *testing.T) {
	peer := vonagetest.Start(t)
	ana := world.Unique("ana")
	register(t, "acme", ana, newNumber())
	p, err := vonage.New(vonage.Config{APIKey: peer.APIKey, APISecret: "not-the-secret", From: "+15005550006", BaseURL: peer.URL})
	if err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, p, sms.Config{Recipients: to(sms.Recipient{ID: ana})})
	err = inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy"))
	var se *sms.SendError
	if !errors.Is(err, inbox.ErrMisconfigured) || !errors.Is(err, sms.ErrUnauthorized) || !errors.As(err, &se) || se.Code != "4" {
		t.Fatalf("Process: %v; want misconfigured, code 4", err)
	}
}

// A number on the account's barred list (status 7: its owner texted STOP)
// is suppressed and removed, an invalid one (status 6) removed; the event
// still reaches the recipient's other number, and the next event tries
// neither, even after the app registers the barred number again.
func TestVonageBarredAndInvalidNumbersAreRemoved(t *testing.T) {
	peer := vonagetest.Start(t)
	ana := world.Unique("ana")
	barred, invalid, kept := newNumber(), newNumber(), newNumber()
	for _, n := range []string{barred, invalid, kept} {
		register(t, "acme", ana, n)
	}
	peer.Bar(barred)
	peer.Invalid(invalid)
	in := newInbox(t, vonageProvider(t, peer, ""), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
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
	if s, err := inbox.Suppressed(ctx, testDB, sms.Channel, []string{barred, invalid}); err != nil || len(s) != 1 || s[barred].Reason != inbox.ReasonUnsubscribe {
		t.Fatalf("suppressed %+v %v; want the barred number, reason unsubscribe", s, err)
	}
	register(t, "acme", ana, barred) // the app syncs the person's profile again
	if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", issue, "comment_added", "Dee")); err != nil {
		t.Fatal(err)
	}
	tried := map[string][]string{}
	for _, m := range peer.Messages() {
		tried["+"+m.To] = append(tried["+"+m.To], m.Status)
	}
	if fmt.Sprint(tried[barred]) != "[7]" || fmt.Sprint(tried[invalid]) != "[6]" || fmt.Sprint(tried[kept]) != "[0 0]" {
		t.Fatalf("statuses per number %v; want the barred and invalid numbers tried once, the kept one twice", tried)
	}
}

// Throttled (status 1, which names no wait) makes the job wait
// ThrottleWait, a 429 its Retry-After, and later sends wait too, without
// a request; after the wait the event is sent, once.
func TestVonageThrottledWaits(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(*vonagetest.Server)
		wait time.Duration
	}{
		{"status 1", func(p *vonagetest.Server) { p.Throttle(1) }, 4 * time.Second},
		{"HTTP 429", func(p *vonagetest.Server) { p.Fail(http.StatusTooManyRequests, 1, "7") }, 7 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			peer := vonagetest.Start(t)
			ana := world.Unique("ana")
			register(t, "acme", ana, newNumber())
			now := time.Now()
			p, err := vonage.New(vonage.Config{APIKey: peer.APIKey, APISecret: peer.APISecret, From: "Tidings", BaseURL: peer.URL,
				ThrottleWait: 4 * time.Second, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			in := newInbox(t, p, sms.Config{Recipients: to(sms.Recipient{ID: ana}), Now: func() time.Time { return now }})
			c.fail(peer)
			ev := world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")
			err = inboxtest.Process(t, testDB, in, ev)
			var ra *inbox.RetryAfterError
			if !errors.As(err, &ra) || ra.Delay != c.wait || !errors.Is(err, sms.ErrRateLimited) {
				t.Fatalf("first attempt: %v; want a rate limit asking for %s", err, c.wait)
			}
			d := inboxtest.NewDelivery(testDB, in, ev)
			d.Attempt = 2
			now = now.Add(c.wait - time.Second)
			if err := inboxtest.ProcessDelivery(t, in, d); !errors.As(err, &ra) || ra.Delay != time.Second {
				t.Fatalf("attempt within the wait: %v; want the 1s left", err)
			}
			if n := len(peer.Messages()); n != 1 {
				t.Fatalf("%d requests; the attempt within the wait sent one", n)
			}
			now = now.Add(time.Second)
			d.Attempt = 3
			if err := inboxtest.ProcessDelivery(t, in, d); err != nil {
				t.Fatalf("attempt after the wait: %v", err)
			}
			if got := peer.Accepted(); len(got) != 1 || len(peer.Messages()) != 2 {
				t.Fatalf("%d accepted of %d requests; want 1 of 2", len(got), len(peer.Messages()))
			}
		})
	}
}

// Vonage is down (503) far longer than the retry window: the breaker
// opens and holds the deliveries (nothing dead-lettered); once it
// answers, each event reaches each number exactly once.
func TestVonageOutageIsHeldAndDeliveredOnce(t *testing.T) {
	peer := vonagetest.Start(t)
	ana := world.Unique("ana")
	n1, n2 := newNumber(), newNumber()
	register(t, "acme", ana, n1)
	register(t, "acme", ana, n2)
	in := newInbox(t, vonageProvider(t, peer, ""), sms.Config{Recipients: to(sms.Recipient{ID: ana}), MaxRunes: 400,
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
	sent := len(peer.Messages())
	if _, err := peer.WaitFor(addresstest.Wait, func(ms []vonagetest.Message) bool { return len(ms) > sent+1 }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
		t.Fatalf("dead letters during the outage: %+v %v", l.Letters, err)
	}
	peer.Up()
	if _, err := peer.WaitFor(addresstest.Wait, func(ms []vonagetest.Message) bool {
		c := 0
		for _, m := range ms {
			if m.Status == "0" {
				c++
			}
		}
		return c >= 2*n
	}); err != nil {
		t.Fatal(err)
	}
	addresstest.WaitUntil(t, "every delivery to be done", func() bool {
		var left int64
		testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE inbox = ?`, in.Name()).Scan(&left)
		return left == 0
	})
	w.Shutdown()
	seen := map[string]int{}
	for _, m := range peer.Accepted() {
		actor, _, _ := strings.Cut(m.Text, ":")
		if !want[actor] {
			t.Errorf("message of an unknown event %q", m.Text)
		}
		seen["+"+m.To+" "+actor]++
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

// Delivery receipts, by each of the dashboard's webhook methods: a signed
// receipt of a message failed with err-code 3 (absent subscriber for
// good) removes the number in the message's tenant only; err-code 2
// (absent for now) does not; err-code 9 (illegal number: opted out)
// suppresses and removes it; a receipt with a wrong signature, or signed
// for another tenant, is refused and changes nothing; every verified
// receipt reaches OnStatus.
func TestVonageDeliveryReceipts(t *testing.T) {
	for _, method := range []string{"POST", "GET", "POST-JSON"} {
		t.Run(method, func(t *testing.T) {
			peer := vonagetest.Start(t)
			peer.ReceiptMethod = method
			peer.SignatureMethod = string(vonage.SHA256HMAC)
			got := make(chan vonage.Status, 10)
			h, err := vonage.NewStatusHandler(vonage.StatusConfig{SignatureSecret: peer.SignatureSecret, SignatureMethod: vonage.SHA256HMAC,
				DB: testDB, Logger: addresstest.Logger(), OnStatus: func(_ context.Context, s vonage.Status) { got <- s }})
			if err != nil {
				t.Fatal(err)
			}
			var tampered bool // a proxy that points the receipts at another tenant
			cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tampered {
					q := r.URL.Query()
					q.Set(vonage.TenantParam, "globex")
					r.URL.RawQuery = q.Encode()
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(cb.Close)
			ana := world.Unique("ana")
			dead, off, stop := newNumber(), newNumber(), newNumber()
			for _, n := range []string{dead, off, stop} {
				register(t, "acme", ana, n)
			}
			register(t, "globex", ana, dead) // the same number in another tenant
			in := newInbox(t, vonageProvider(t, peer, cb.URL+"/vonage/dlr"), sms.Config{Recipients: to(sms.Recipient{ID: ana})})
			if err := inboxtest.Process(t, testDB, in, world.Record(t, "acme", world.NewIssue(t), "comment_added", "Cy")); err != nil {
				t.Fatal(err)
			}
			id := map[string]string{}
			for _, m := range peer.Accepted() {
				id["+"+m.To] = m.ID
				if !strings.Contains(m.Callback, vonage.TenantParam+"=acme") || m.ClientRef != vonage.ClientRef("acme") {
					t.Fatalf("callback %q, client-ref %q: the tenant is not named", m.Callback, m.ClientRef)
				}
			}
			ctx := context.Background()
			numbers := func(tenant string) []string {
				as, err := device.List(activity.WithTenant(ctx, tenant), testDB, ana, device.Phone)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, a := range as {
					out = append(out, a.Address)
				}
				return out
			}
			// A forged receipt (another secret): refused, nothing removed.
			if code, err := peer.ReceiptSigned(ctx, id[dead], "failed", "3", "forged"); err != nil || code != http.StatusForbidden {
				t.Fatalf("forged receipt: %d %v; want 403", code, err)
			}
			// Vonage's own receipt, pointed at another tenant: refused.
			tampered = true
			if code, err := peer.Receipt(ctx, id[dead], "failed", "3"); err != nil || code != http.StatusForbidden {
				t.Fatalf("receipt pointed at another tenant: %d %v; want 403", code, err)
			}
			tampered = false
			if n := numbers("acme"); len(n) != 3 {
				t.Fatalf("after refused receipts, acme numbers %v; want all 3", n)
			}
			if n := numbers("globex"); len(n) != 1 {
				t.Fatalf("after refused receipts, globex numbers %v; want its one", n)
			}
			for _, c := range []struct{ to, status, code string }{
				{off, "failed", "2"}, {dead, "delivered", "0"}, {dead, "failed", "3"}, {stop, "rejected", "9"},
			} {
				if code, err := peer.Receipt(ctx, id[c.to], c.status, c.code); err != nil || code != http.StatusOK {
					t.Fatalf("receipt %+v: %d %v", c, code, err)
				}
				s := <-got
				if s.MessageID != id[c.to] || s.Status != c.status || s.ErrorCode != c.code || s.Tenant != "acme" || s.To != c.to || s.From != "15005550006" {
					t.Fatalf("OnStatus got %+v for %+v", s, c)
				}
			}
			if n := numbers("acme"); len(n) != 1 || n[0] != off {
				t.Fatalf("acme numbers %v; want only %s (3 and 9 remove, 2 does not)", n, off)
			}
			if n := numbers("globex"); len(n) != 1 || n[0] != dead {
				t.Fatalf("globex numbers %v; an acme receipt removed another tenant's number", n)
			}
			sctx := activity.WithTenant(ctx, "acme")
			if s, err := inbox.Suppressed(sctx, testDB, sms.Channel, []string{stop, dead}); err != nil || len(s) != 1 || s[stop].Reason != inbox.ReasonUnsubscribe {
				t.Fatalf("suppressed %+v %v; want the err-code 9 number only", s, err)
			}
			select {
			case s := <-got:
				t.Fatalf("OnStatus told of a refused receipt: %+v", s)
			default:
			}
		})
	}
}
