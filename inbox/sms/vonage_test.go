package sms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
	"github.com/tidingsdev/tidings/inbox/sms/vonagetest"
)

// The tests of this file are Vonage's own; the provider-neutral ones run
// with each provider (providers_test.go).

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

// Throttled (status 1, in a 200, which names no wait) makes the job wait
// ThrottleWait, and later sends wait too, without a request; after the
// wait the event is sent, once. (A 429's Retry-After is
// TestRateLimitWaitsRetryAfter's, with each provider.)
func TestVonageThrottledWaits(t *testing.T) {
	peer := vonagetest.Start(t)
	now := time.Now()
	p, err := vonage.New(vonage.Config{APIKey: peer.APIKey, APISecret: peer.APISecret, From: "Tidings", BaseURL: peer.URL,
		ThrottleWait: 4 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	waitsOut(t, vonagePeer{peer}, p, &now, func() { peer.Throttle(1) }, 4*time.Second)
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
			numbers := func(tenant string) []string { return numbersOf(t, tenant, ana) }
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
