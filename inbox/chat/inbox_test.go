package chat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Each provider's inbox passes the conformance suite against its local
// receiver: a retried job posts nothing more.
func TestConformance(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		in := newInbox(t, p, chat.Config{Router: router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: p.hook("acme")}}})})
		ev := record(t, "acme", newIssue(t), "comment_added", "Ana")
		inboxtest.Conformance(t, testDB, in, ev)
		if n := len(p.accepted()); n != 1 || p.posts() != 1 {
			t.Fatalf("%d messages accepted of %d posts, want 1 of 1", n, p.posts())
		}
	})
}

// Each tenant's events go to its own webhook; a tenant without a route
// gets nothing, and its delivery is suppressed (no Default).
func TestTenantsGoToTheirOwnWebhooks(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		acme, globex := p.hook("acme"), p.hook("globex")
		in := newInbox(t, p, chat.Config{Router: router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: acme}, {Tenant: "globex", URL: globex}}})})
		issue := newIssue(t)
		for _, tenant := range []string{"acme", "globex", "initech"} {
			ev := record(t, tenant, issue, "comment_added", "Ana of "+tenant)
			d := inboxtest.NewDelivery(testDB, in, ev)
			if err := inboxtest.ProcessDelivery(t, in, d); err != nil {
				t.Fatal(err)
			}
			if d.Suppressed() != (tenant == "initech") {
				t.Errorf("%s: suppressed %v", tenant, d.Suppressed())
			}
		}
		got := p.accepted()
		if len(got) != 2 {
			t.Fatalf("%d messages, want 2: %+v", len(got), got)
		}
		for _, m := range got {
			if !strings.Contains(m.texts[0], "Ana of "+m.hook) {
				t.Errorf("webhook %s got %q", m.hook, m.texts[0])
			}
		}
	})
}

// Messages are worded in the target's language through the catalog, and
// user text cannot ping or link in Discord.
func TestRenderedInTheTargetsLocale(t *testing.T) {
	cat, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	for loc, f := range map[string]string{"en": "%[1]s commented on %[3]s", "de": "%[1]s hat %[3]s kommentiert"} {
		if err := cat.Set(loc, "issue.comment_added.title", f); err != nil {
			t.Fatal(err)
		}
	}
	eachPeer(t, func(t *testing.T, p peer) {
		in := newInbox(t, p, chat.Config{Catalog: cat, Router: router(t, chat.RouterConfig{Rules: []chat.Rule{
			{Tenant: "acme", URL: p.hook("acme"), Locale: "de"}, {Tenant: "globex", URL: p.hook("globex")}}})})
		issue := newIssue(t)
		for _, tenant := range []string{"acme", "globex"} {
			if err := inboxtest.Process(t, testDB, in, record(t, tenant, issue, "comment_added", "Ana @everyone [x](https://evil.example)")); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]string{"acme": " hat ", "globex": " commented on "}
		for _, m := range p.accepted() {
			if !strings.Contains(m.texts[0], want[m.hook]) {
				t.Errorf("%s: %q, want it to say %q", m.hook, m.texts[0], want[m.hook])
			}
			if p.name == "discord" && !strings.Contains(m.texts[0], `\[x\]\(https://evil.example\)`) {
				t.Errorf("%s: %q: the link is not escaped", m.hook, m.texts[0])
			}
		}
	})
}

// The provider is down (503) far longer than the retry window: the
// breaker opens and holds the deliveries (nothing dead-lettered); once
// the provider answers, each event is posted exactly once.
func TestOutageIsHeldAndDeliveredOnce(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		in := newInbox(t, p, chat.Config{
			Router: router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: p.hook("acme")}}}),
			Policy: inbox.Policy{RetryWindow: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }},
		})
		w, _ := startWorker(t, in, inbox.BreakerConfig{Failures: 3, OpenFor: 200 * time.Millisecond, MaxOpenFor: 400 * time.Millisecond})
		p.down(503)
		issue := newIssue(t)
		const n = 6
		for range n {
			record(t, "acme", issue, "comment_added", "Ana")
		}
		opened := func() bool {
			for _, b := range w.Breakers() {
				if b.Sink == in.Sink() && b.State == inbox.BreakerOpen {
					return true
				}
			}
			return false
		}
		waitUntil(t, "the breaker to open", opened)
		// Stay down past several windows and probes.
		posts := p.posts()
		waitUntil(t, "a failed probe", func() bool { return p.posts() > posts && opened() })
		ctx := context.Background()
		if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
			t.Fatalf("dead letters during the outage: %+v %v", l.Letters, err)
		}
		p.up()
		if _, err := p.waitFor(n); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "every delivery to be done", func() bool {
			var left int64
			testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE inbox = ?`, in.Name()).Scan(&left)
			return left == 0
		})
		w.Shutdown()
		if got := len(p.accepted()); got != n {
			t.Errorf("%d messages, want %d (each event once)", got, n)
		}
		if l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(l.Letters) != 0 {
			t.Errorf("dead letters: %+v %v", l.Letters, err)
		}
	})
}

// A 429 is retried after the provider's Retry-After (not the backoff),
// and the message is then posted once.
func TestRateLimitWaitsRetryAfter(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		in := newInbox(t, p, chat.Config{
			Router: router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: p.hook("acme")}}}),
			Policy: inbox.Policy{RetryWindow: time.Hour, Backoff: func(int) time.Duration { return 10 * time.Millisecond }},
		})
		_, attempts := startWorker(t, in, inbox.BreakerConfig{})
		const retry = 1
		p.limit(1, retry)
		record(t, "acme", newIssue(t), "comment_added", "Ana")
		first := nextAttempt(t, attempts)
		var ra *inbox.RetryAfterError
		if !errors.As(first.err, &ra) || ra.Delay < 900*time.Millisecond || !errors.Is(first.err, chat.ErrRateLimited) {
			t.Fatalf("first attempt: %v; want a rate limit asking for %ds", first.err, retry)
		}
		second := nextAttempt(t, attempts)
		if second.err != nil {
			t.Fatalf("second attempt: %v", second.err)
		}
		if waited := second.at.Sub(first.at); waited < 900*time.Millisecond {
			t.Errorf("retried after %v; the provider asked for %ds", waited, retry)
		}
		if got := len(p.accepted()); got != 1 || p.posts() != 2 {
			t.Errorf("%d accepted of %d posts; want 1 of 2", got, p.posts())
		}
	})
}

// A deleted webhook (404): the delivery is a dead letter at once, classed
// misconfigured; the webhook is suppressed, and the next event's delivery
// fails the same way without a post.
func TestGoneWebhookIsSuppressed(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		id := unique("gone")
		url := p.hook(id)
		in := newInbox(t, p, chat.Config{Router: router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: url}}})})
		w, attempts := startWorker(t, in, inbox.BreakerConfig{})
		p.delete(id)
		issue := newIssue(t)
		record(t, "acme", issue, "comment_added", "Ana")
		a := nextAttempt(t, attempts)
		if !errors.Is(a.err, inbox.ErrMisconfigured) || !errors.Is(a.err, chat.ErrGone) {
			t.Fatalf("attempt: %v; want misconfigured, webhook gone", a.err)
		}
		if strings.Contains(a.err.Error(), url) || strings.Contains(a.err.Error(), "tok-") || strings.Contains(a.err.Error(), "sig-") {
			t.Errorf("the error repeats the webhook's secret URL: %v", a.err)
		}
		ctx := context.Background()
		got, err := inbox.Suppressed(ctx, testDB, p.provider.Name(), []string{chat.TargetKey(url)})
		if err != nil || len(got) != 1 {
			t.Fatalf("suppressed %v %v; want the webhook on the list", got, err)
		}
		posts := p.posts()
		record(t, "acme", issue, "comment_added", "Bob")
		a = nextAttempt(t, attempts)
		if !errors.Is(a.err, inbox.ErrMisconfigured) {
			t.Fatalf("second event's attempt: %v; want misconfigured", a.err)
		}
		if p.posts() != posts {
			t.Errorf("the gone webhook was tried again (%d posts, was %d)", p.posts(), posts)
		}
		waitUntil(t, "two dead letters", func() bool {
			l, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()})
			return err == nil && len(l.Letters) == 2
		})
		var mis string
		for _, b := range w.Breakers() {
			if b.Sink == in.Sink() {
				mis = b.Misconfigured
			}
		}
		if mis == "" {
			t.Errorf("the sink's breaker does not say it is misconfigured: %+v", w.Breakers())
		}
	})
}

// With Batching, a subject's events in one window become one message
// listing each.
func TestBatchedWindowIsOneMessage(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		now := time.Now()
		clock := func() time.Time { return now }
		in := newInbox(t, p, chat.Config{
			Router:   router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: p.hook("acme")}}}),
			Batching: &chat.BatchingConfig{DB: testDB, Schedule: inbox.FixedWindow(time.Hour), Now: clock},
		})
		issue := newIssue(t)
		for _, who := range []string{"Ana", "Bob", "Cy"} {
			if err := inboxtest.Process(t, testDB, in, record(t, "acme", issue, "comment_added", who)); err != nil {
				t.Fatal(err)
			}
		}
		if p.posts() != 0 {
			t.Fatalf("%d posts while the window is open", p.posts())
		}
		res, err := in.Flush(activity.WithTenant(t.Context(), "acme"), now.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got := p.accepted()
		if len(got) != 1 {
			t.Fatalf("%d messages (flush %+v), want 1", len(got), res)
		}
		text := strings.Join(got[0].texts, "\n")
		for _, who := range []string{"Ana", "Bob", "Cy", "3 updates"} {
			if !strings.Contains(text, who) {
				t.Errorf("the message %q does not name %s", text, who)
			}
		}
	})
}
