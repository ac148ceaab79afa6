package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Each failure of Post against a receiver on loopback, in its kind: a
// refusal of the setup has a reason (Error.Misconfigured; Misconfigured
// makes it an inbox.MisconfiguredError of the URL's sink, its reason in
// the text, never the URL's path), is not retryable and not an outage; an
// outage is an inbox.UnreachableError; a refusal of this one request is
// neither, and retryable failures stay retryable.
func TestPostClassifiesRefusals(t *testing.T) {
	ctx := context.Background()
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	})
	sink := "https://" + srv.Listener.Addr().String()
	c := clientFor(t, nil, srv)

	type want struct {
		misconfigured string // a word of the reason; "" when not a misconfiguration
		down          bool   // an outage (ErrSinkDown)
		retryable     bool
	}
	check := func(what string, c *Client, url, wantSink string, w want) {
		t.Helper()
		_, err := c.Post(ctx, Request{URL: url, Body: []byte(`{}`)})
		var we *Error
		if !errors.As(err, &we) {
			t.Fatalf("%s: %v; want an *Error", what, err)
		}
		reason := we.Misconfigured()
		var mis *inbox.MisconfiguredError
		wrapped := Misconfigured(Sink(url), err)
		isMis := errors.As(wrapped, &mis)
		switch {
		case w.misconfigured != "" && (!isMis || mis.Sink != wantSink || mis.Reason != reason || !strings.Contains(reason, w.misconfigured) || !strings.Contains(wrapped.Error(), reason)):
			t.Errorf("%s: %v (%q); want a misconfiguration of %s whose reason says %q", what, err, reason, wantSink, w.misconfigured)
		case w.misconfigured == "" && (reason != "" || wrapped != nil):
			t.Errorf("%s: %v; want no misconfiguration, got %q", what, err, reason)
		case errors.Is(err, inbox.ErrSinkDown) != w.down:
			t.Errorf("%s: %v; sink down %v, want %v", what, err, !w.down, w.down)
		case we.Retryable() != w.retryable:
			t.Errorf("%s: %v; retryable %v, want %v", what, err, !w.retryable, w.retryable)
		case strings.Contains(err.Error(), "secret-path") || strings.Contains(reason, "secret-path"):
			t.Errorf("%s: %v; the error shows the URL's path", what, err)
		}
	}

	// Answers.
	check("401", c, srv.URL+"/401", sink, want{misconfigured: "refuses our requests (HTTP 401)"})
	check("403", c, srv.URL+"/403", sink, want{misconfigured: "refuses our requests (HTTP 403)"})
	check("404", c, srv.URL+"/404", sink, want{misconfigured: "no endpoint at this URL (HTTP 404)"})
	check("410", c, srv.URL+"/410", sink, want{misconfigured: "no endpoint at this URL (HTTP 410)"})
	check("400", c, srv.URL+"/400", sink, want{})
	check("422", c, srv.URL+"/422", sink, want{})
	check("500", c, srv.URL+"/500", sink, want{retryable: true})
	check("429", c, srv.URL+"/429", sink, want{retryable: true})
	check("503", c, srv.URL+"/503", sink, want{down: true, retryable: true})

	// TLS: a certificate the client does not trust, or for another host.
	untrusting := NewClient(Config{CheckAddr: c.cfg.CheckAddr, TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}})
	check("unknown authority", untrusting, srv.URL+"/200", sink, want{misconfigured: "certificate is not trusted"})
	other := "https://other.test:" + strconv.Itoa(int(srv.addr.Port()))
	wrongHost := clientFor(t, newFakeResolver(map[string][]string{"other.test": {srv.addr.Addr().String()}}), srv)
	check("certificate for another host", wrongHost, other+"/200", other, want{misconfigured: "certificate is not trusted"})

	// TLS: the receiver refuses the handshake (TLS 1.3 only, the client
	// offers at most 1.2).
	strict := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	strict.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	strict.StartTLS()
	t.Cleanup(strict.Close)
	strictAddr := netip.MustParseAddrPort(strict.Listener.Addr().String())
	pool := x509.NewCertPool()
	pool.AddCert(strict.Certificate())
	old := NewClient(Config{CheckAddr: allowOnly(strictAddr), TLSConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}})
	check("handshake refused", old, strict.URL+"/", "https://"+strictAddr.String(), want{misconfigured: "refuses the TLS handshake"})

	// Plain HTTP on the URL's port.
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)
	plainAddr := netip.MustParseAddrPort(plain.Listener.Addr().String())
	plainURL := "https://" + plainAddr.String()
	check("no TLS on the port", NewClient(Config{CheckAddr: allowOnly(plainAddr)}), plainURL+"/secret-path", plainURL, want{misconfigured: "does not speak TLS"})

	// The client's own rules: a non-public address (directly, through a
	// name, through a redirect), a URL that is not https, a redirect loop.
	strictClient := clientFor(t, newFakeResolver(map[string][]string{"internal.example": {"10.0.0.1"}}))
	check("loopback", strictClient, srv.URL+"/secret-path", sink, want{misconfigured: "is loopback"})
	check("private through a name", strictClient, "https://internal.example/secret-path", "https://internal.example", want{misconfigured: "is private"})
	check("not https", strictClient, "http://example.com/secret-path", "http://example.com", want{misconfigured: "need https"})
	redirecting := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/private" {
			http.Redirect(w, r, "https://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect)
			return
		}
		http.Redirect(w, r, "/again", http.StatusTemporaryRedirect)
	})
	rsink := "https://" + redirecting.Listener.Addr().String()
	rc := clientFor(t, nil, redirecting)
	check("redirect to a private address", rc, redirecting.URL+"/private", rsink, want{misconfigured: "is link-local"})
	check("redirect loop", rc, redirecting.URL+"/loop", rsink, want{misconfigured: "redirects more than 3 times"})

	// Outages: nobody listening; a host that takes the connection and
	// drops it during the handshake.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dropAddr := netip.MustParseAddrPort(l.Addr().String())
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	check("connection dropped in the handshake", NewClient(Config{CheckAddr: allowOnly(dropAddr)}), "https://"+dropAddr.String()+"/", "https://"+dropAddr.String(), want{down: true, retryable: true})
	srv.Close()
	check("nobody listening", c, srv.URL+"/200", sink, want{down: true, retryable: true})
}

func allowOnly(allowed netip.AddrPort) func(netip.AddrPort) error {
	return func(ap netip.AddrPort) error {
		if ap == allowed {
			return nil
		}
		return PublicOnly(ap)
	}
}

// Through the real worker: a subscription whose receiver answers 410
// fails on its first attempt, the dead letter says why, and the worker's
// breaker for the receiver's sink records the misconfiguration (health
// reports it); the receiver's next accepted delivery clears it (the
// subscriptions inbox names no sink of its own: Delivery.Answered).
func TestSubscriptionMisconfigured(t *testing.T) {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE webhook_subscriptions, inbox_deliveries, inbox_dead_letters, activity_outbox, inbox_pending, issue_events`)
	var gone atomic.Bool
	gone.Store(true)
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if gone.Load() {
			w.WriteHeader(http.StatusGone)
		}
	})
	resolver := newFakeResolver(map[string][]string{"example.com": {srv.addr.Addr().String()}})
	subs, err := NewSubscriptions(SubscriptionsConfig{DB: testDB, Keyring: testKeys(t), Domains: []*activity.Domain{issues}, Source: "/tidings/test",
		Client: clientFor(t, resolver, srv), Name: "webhooks-misconfigured"})
	if err != nil {
		t.Fatal(err)
	}
	sink := "https://example.com:" + strconv.Itoa(int(srv.addr.Port()))
	if _, err := subs.Subscribe(ctx, "users:1", SubscriptionSpec{Domain: "issue", URL: sink + "/hook", Secret: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	attempts := make(chan error, 16)
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: testRedis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{subs},
		Middleware: []inbox.Middleware{func(next inbox.ProcessFunc) inbox.ProcessFunc {
			return func(ctx context.Context, d *inbox.Delivery) error {
				err := next(ctx, d)
				attempts <- err
				return err
			}
		}},
		Logger: testLogger(), Relay: inbox.RelayConfig{PollInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	next := func() error {
		t.Helper()
		select {
		case err := <-attempts:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("no attempt within 20s")
		}
		return nil
	}
	breaker := func() inbox.BreakerState {
		for _, b := range w.Breakers() {
			if b.Sink == sink {
				return b
			}
		}
		return inbox.BreakerState{}
	}
	var issueID int64
	testDB.Raw(`INSERT INTO issues (title) VALUES ('x') RETURNING id`).Scan(&issueID)
	res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.System("test")))
	if err != nil {
		t.Fatal(err)
	}
	var mis *inbox.MisconfiguredError
	if err := next(); !errors.As(err, &mis) || mis.Sink != sink {
		t.Fatalf("the delivery failed with %v; want a MisconfiguredError of %s", err, sink)
	}
	if b := breaker(); b.Misconfigured != mis.Reason || b.State != inbox.BreakerClosed {
		t.Errorf("breaker %+v; want closed (not an outage) with the misconfiguration %q", b, mis.Reason)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Letters) == 1 {
			if l := page.Letters[0]; l.Event != res.Event.Ref() || l.Attempts != 1 || !strings.Contains(l.LastError, mis.Reason) {
				t.Errorf("dead letter %+v; want one attempt saying %q", l, mis.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no dead letter within 20s")
		}
		time.Sleep(10 * time.Millisecond) // polling the worker's dead letters
	}

	// The receiver is fixed: the next delivery is accepted and clears it.
	gone.Store(false)
	if _, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.System("test"))); err != nil {
		t.Fatal(err)
	}
	if err := next(); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	if b := breaker(); b.Misconfigured != "" {
		t.Errorf("breaker %+v after an accepted delivery; want the misconfiguration cleared", b)
	}
}
