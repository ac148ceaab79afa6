package slack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

// 30 events on one issue within a window are one Slack message, in the
// issue's thread, posted when the window closes and never again; another
// issue's events are their own message.
func TestBatchingOneMessagePerWindowPerThread(t *testing.T) {
	ctx := t.Context()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	now := t0
	clock := func() time.Time { return now }
	cat, _ := locale.New("de")
	_ = cat.Set("de", "issue.comment_added.line", "%[1]s hat %[2]s kommentiert")
	_ = cat.SetPlural("de", locale.DigestSubject, 1, "one", "1 Neuigkeit", "other", "%[1]d Neuigkeiten")
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: unique("slack-batch"), Publisher: poster(t, srv, slackinbox.NewGormThreads(testDB)),
		Batching: &slackinbox.BatchingConfig{DB: testDB, Schedule: inbox.FixedWindow(15 * time.Minute), Catalog: cat, Locale: "de", Now: clock}})
	if err != nil {
		t.Fatal(err)
	}
	issue, other := unique("42"), unique("43")
	for i := range 30 {
		ev := event(keySeq.Add(1), issue, "comment_added", "Ana", nil)
		for range 2 { // retried jobs
			if err := inboxtest.Process(t, testDB, in, ev); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 {
			if err := inboxtest.Process(t, testDB, in, event(keySeq.Add(1), other, "comment_added", "Bo", nil)); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(10 * time.Second)
	}
	if n := srv.Calls("chat.postMessage"); n != 0 {
		t.Fatalf("%d messages while the windows are open, want none", n)
	}
	res, err := in.Flush(ctx, t0.Add(15*time.Minute))
	if err != nil || res.Sent != 2 {
		t.Fatalf("flush: %+v, %v; want two windows posted", res, err)
	}
	if res, _ := in.Flush(ctx, t0.Add(time.Hour)); res.Sent != 0 {
		t.Fatalf("posted again: %+v", res)
	}
	msgs, err := srv.WaitFor(2, wait)
	if err != nil {
		t.Fatal(err)
	}
	var burst string
	for _, m := range msgs {
		if strings.Contains(m.Text, "#"+issue) {
			burst = m.Text
		}
	}
	if n := strings.Count(burst, "• Ana hat #"+issue+" kommentiert"); n != 30 || !strings.HasPrefix(burst, "*30 Neuigkeiten*") {
		t.Errorf("the burst's message lists %d items:\n%s", n, burst)
	}
	if len(srv.Messages()) != 2 {
		t.Errorf("%d messages, want 2", len(srv.Messages()))
	}
	// The next window of the issue replies in its thread.
	now = t0.Add(time.Hour)
	inboxtest.Conformance(t, testDB, in, event(keySeq.Add(1), issue, "comment_added", "Cy", nil), "batch_windows", "batch_items")
	if _, err := in.Flush(ctx, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	msgs, err = srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[2].ThreadTS == "" {
		t.Error("the next window's message is not in the issue's thread")
	}
}

// The Slack inbox without batching passes the shared conformance checks.
func TestConformance(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: unique("slack-conf"), Publisher: poster(t, srv, slackinbox.NewGormThreads(testDB))})
	if err != nil {
		t.Fatal(err)
	}
	inboxtest.Conformance(t, testDB, in, event(keySeq.Add(1), unique("7"), "comment_added", "Ana", nil), "slack_threads")
	if n := srv.Calls("chat.postMessage"); n != 1 {
		t.Errorf("%d posts for one event retried, want 1", n)
	}
}

// The same issue id in two tenants is two windows, two messages in two
// threads: a tenant's burst never joins another's window or thread, and
// each tenant's next window replies in its own thread.
func TestBatchingPerTenant(t *testing.T) {
	ctx := t.Context()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	now := t0
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: unique("slack-batch-tenants"), Publisher: poster(t, srv, slackinbox.NewGormThreads(testDB)),
		Batching: &slackinbox.BatchingConfig{DB: testDB, Schedule: inbox.FixedWindow(15 * time.Minute), Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	issue := unique("44")
	tenantEvent := func(tenant, actor string) activity.Event {
		ev := event(keySeq.Add(1), issue, "comment_added", actor, nil)
		ev.TenantID = tenant
		return ev
	}
	for _, tn := range []string{"ta", "tb", "ta", "tb", "ta"} {
		if err := inboxtest.Process(t, testDB, in, tenantEvent(tn, "user of "+tn)); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := in.Flush(ctx, t0.Add(15*time.Minute)); err != nil || res.Sent != 2 {
		t.Fatalf("flush: %+v, %v; want one message per tenant", res, err)
	}
	msgs, err := srv.WaitFor(2, wait)
	if err != nil {
		t.Fatal(err)
	}
	thread := map[string]string{}
	for _, m := range msgs {
		if m.ThreadTS != "" {
			t.Errorf("a tenant's first window replied in thread %s", m.ThreadTS)
		}
		a, b := strings.Count(m.Text, "user of ta"), strings.Count(m.Text, "user of tb")
		switch {
		case a == 3 && b == 0:
			thread["ta"] = m.TS
		case b == 2 && a == 0:
			thread["tb"] = m.TS
		default:
			t.Errorf("a message mixes tenants or misses items (%d of A, %d of B):\n%s", a, b, m.Text)
		}
	}
	// Each tenant's next window replies in that tenant's thread.
	now = t0.Add(time.Hour)
	if err := inboxtest.Process(t, testDB, in, tenantEvent("tb", "user of tb")); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Flush(ctx, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	msgs, err = srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs[2].ThreadTS; got == "" || got != thread["tb"] {
		t.Errorf("B's next window replied in thread %q, want B's %q (A's is %q)", got, thread["tb"], thread["ta"])
	}
}

// A batched window whose post Slack refuses is kept and tried again: a 500,
// then a rate limit, then the post goes through, once; a permanent refusal
// (channel_not_found) fails the window instead of retrying it forever.
func TestBatchingSlackDownThenBack(t *testing.T) {
	ctx := t.Context()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	now := t0
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: unique("slack-batch-down"), Publisher: poster(t, srv, slackinbox.NewGormThreads(testDB)),
		Batching: &slackinbox.BatchingConfig{DB: testDB, Schedule: inbox.FixedWindow(15 * time.Minute), Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	if err := inboxtest.Process(t, testDB, in, event(keySeq.Add(1), unique("77"), "comment_added", "Ana", nil)); err != nil {
		t.Fatal(err)
	}
	due := t0.Add(15 * time.Minute)
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "internal_error", Status: 500})
	if res, err := in.Flush(ctx, due); err != nil || res.Retrying != 1 || res.Sent != 0 {
		t.Fatalf("flush while Slack answers 500: %+v, %v; want the window retrying", res, err)
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 30 * time.Second})
	if res, err := in.Flush(ctx, due.Add(2*time.Minute)); err != nil || res.Retrying != 1 || res.Sent != 0 {
		t.Fatalf("flush while Slack rate-limits: %+v, %v; want the window retrying", res, err)
	}
	if res, err := in.Flush(ctx, due.Add(3*time.Hour)); err != nil || res.Sent != 1 {
		t.Fatalf("flush after Slack came back: %+v, %v; want the window posted", res, err)
	}
	if res, _ := in.Flush(ctx, due.Add(6*time.Hour)); res.Sent+res.Retrying+res.Failed != 0 {
		t.Fatalf("flushed again: %+v", res)
	}
	if _, err := srv.WaitFor(1, wait); err != nil {
		t.Fatal(err)
	}

	// A permanent refusal fails the window at once, and nothing is posted.
	now = t0.Add(24 * time.Hour)
	if err := inboxtest.Process(t, testDB, in, event(keySeq.Add(1), unique("78"), "comment_added", "Bo", nil)); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "channel_not_found"})
	if res, err := in.Flush(ctx, now.Add(15*time.Minute)); err != nil || res.Failed != 1 {
		t.Fatalf("flush refused with channel_not_found: %+v, %v; want the window failed", res, err)
	}
	if res, _ := in.Flush(ctx, now.Add(10*time.Hour)); res.Sent+res.Retrying+res.Failed != 0 {
		t.Fatalf("a failed window was tried again: %+v", res)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1 (the retried window's, once)", n)
	}
}
