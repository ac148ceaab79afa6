package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// newEvent makes up an issue event with an ID no other test uses (ledger
// rows outlive a test).
func newEvent(subject, action, actor string, extra map[string]any) activity.Event {
	return event(keySeq.Add(1), subject, action, actor, extra)
}

func newInbox(t *testing.T, pub slackinbox.Publisher) *slackinbox.Inbox {
	t.Helper()
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: unique("slack"), Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// deliver runs one delivery of ev to in, as the worker would.
func deliver(t *testing.T, in inbox.Inbox, ev activity.Event) error {
	t.Helper()
	return inboxtest.Process(t, testDB, in, ev)
}

func mustDeliver(t *testing.T, in inbox.Inbox, ev activity.Event) {
	t.Helper()
	if err := deliver(t, in, ev); err != nil {
		t.Fatalf("deliver %s: %v", ev, err)
	}
}

// The message lands in the configured channel with user text escaped, and
// processing the event again (a retry, a re-drive) posts nothing new.
func TestInboxPostsOnceEscaped(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	in := newInbox(t, poster(t, srv, nil))
	ev := newEvent(unique("42"), "comment_added", "<!channel> Ana", map[string]any{"body": "ping <@U123> & <b>you</b>"})
	mustDeliver(t, in, ev)
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.Channel != "CISSUES" {
		t.Errorf("posted to %q, want CISSUES (#issues, the issue domain's rule)", m.Channel)
	}
	all := strings.Join(m.Texts(), "\n")
	for _, raw := range []string{"<!channel>", "<@U123>", "<b>", " & "} {
		if strings.Contains(all, raw) {
			t.Errorf("%q arrived unescaped:\n%s", raw, all)
		}
	}
	for _, esc := range []string{"&lt;!channel&gt; Ana", "ping &lt;@U123&gt; &amp; &lt;b&gt;you&lt;/b&gt;"} {
		if !strings.Contains(all, esc) {
			t.Errorf("%q missing:\n%s", esc, all)
		}
	}
	mustDeliver(t, in, ev)
	mustDeliver(t, in, ev)
	if n := srv.Calls(slacktest.MethodPostMessage); n != 1 {
		t.Fatalf("%d chat.postMessage calls after processing the event three times, want 1", n)
	}
}

// A second event on a subject is posted in the first one's thread.
func TestInboxThreadsASubject(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	in := newInbox(t, poster(t, srv, slackinbox.NewGormThreads(testDB)))
	subject, other := unique("42"), unique("43")
	mustDeliver(t, in, newEvent(subject, "comment_added", "Ana", nil))
	mustDeliver(t, in, newEvent(subject, "label_added", "Bob", nil))
	mustDeliver(t, in, newEvent(other, "comment_added", "Ana", nil))
	msgs, err := srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].ThreadTS != "" || msgs[1].ThreadTS != msgs[0].TS || msgs[2].ThreadTS != "" {
		t.Fatalf("thread_ts %q %q %q; want the second to reply to %q and the others top level",
			msgs[0].ThreadTS, msgs[1].ThreadTS, msgs[2].ThreadTS, msgs[0].TS)
	}
}

// Refusals no retry can fix are permanent and say what to fix; nothing
// is recorded as sent, so a re-drive after the fix posts.
func TestInboxPermanentErrors(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	in := newInbox(t, poster(t, srv, nil))
	for code, hint := range map[string]string{
		"channel_not_found": "check the routing",
		"not_in_channel":    "/invite",
		"invalid_auth":      "bot token",
		"is_archived":       "archived",
	} {
		srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: code})
		ev := newEvent(unique("42"), "comment_added", "Ana", nil)
		err := deliver(t, in, ev)
		if !inbox.IsPermanent(err) || !errors.Is(err, slackinbox.ErrPermanent) || !strings.Contains(err.Error(), code) || !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: %v; want a permanent error naming it, with a hint containing %q", code, err, hint)
		}
		mustDeliver(t, in, ev) // the re-drive
	}
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("%d messages after the re-drives, want 4", n)
	}
	// A temporary failure is neither permanent nor a RetryAfter.
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "internal_error"})
	err := deliver(t, in, newEvent(unique("42"), "comment_added", "Ana", nil))
	var ra *inbox.RetryAfterError
	if err == nil || inbox.IsPermanent(err) || errors.As(err, &ra) {
		t.Errorf("internal_error: %v; want a plain temporary error", err)
	}
}

// An accepted event that nothing routes (subject rules, no default) is
// skipped, not failed.
func TestInboxSkipsUnroutedEvents(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	incident := unique("incident")
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token: token, APIURL: srv.APIURL(),
		Router: router(t, slackinbox.RouterConfig{Rules: []slackinbox.Rule{{Domain: "issue", SubjectID: incident, Channel: "#incident"}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, p)
	if !in.Accepts("issue", "comment_added") || in.Accepts("invoice", "paid") {
		t.Fatal("Accepts does not follow the router")
	}
	mustDeliver(t, in, newEvent(unique("7"), "comment_added", "Ana", nil))
	mustDeliver(t, in, newEvent(incident, "comment_added", "Ana", nil))
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Channel != "CINCIDENT" || srv.Calls(slacktest.MethodPostMessage) != 1 {
		t.Fatalf("%d messages, first in %q; want only the incident's", len(msgs), msgs[0].Channel)
	}
}

// Webhook mode: the same guarantees through incoming webhooks.
func TestInboxWebhookMode(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{})
	in := newInbox(t, webhookPoster(t, srv))
	ev := newEvent(unique("42"), "comment_added", "<!here> Ana", nil)
	mustDeliver(t, in, ev)
	mustDeliver(t, in, ev)
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || srv.Calls(slacktest.MethodWebhook) != 1 || msgs[0].Webhook != "T1/B1/general-secret" || !strings.Contains(msgs[0].Text, "&lt;!here&gt; Ana") {
		t.Fatalf("%d messages in %d calls: %+v", len(msgs), srv.Calls(slacktest.MethodWebhook), msgs)
	}

	srv.FailNext(slacktest.MethodWebhook, 1, slacktest.Failure{Error: "no_service"})
	err = deliver(t, in, newEvent(unique("42"), "comment_added", "Ana", nil))
	if !inbox.IsPermanent(err) || strings.Contains(err.Error(), "secret") {
		t.Errorf("webhook 404: %v; want permanent, without the webhook URL", err)
	}
	srv.FailNext(slacktest.MethodWebhook, 1, slacktest.Failure{RetryAfter: 7 * time.Second})
	err = deliver(t, in, newEvent(unique("42"), "comment_added", "Ana", nil))
	var ra *inbox.RetryAfterError
	if !errors.As(err, &ra) || ra.Delay != 7*time.Second || inbox.IsPermanent(err) {
		t.Errorf("webhook 429: %v; want inbox.RetryAfter 7s", err)
	}
}

func TestNewInboxChecksConfig(t *testing.T) {
	if _, err := slackinbox.NewInbox(slackinbox.InboxConfig{}); !errors.Is(err, inbox.ErrInvalidConfig) {
		t.Errorf("no publisher: %v", err)
	}
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Publisher: poster(t, srv, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if in.Name() != "slack" || in.Policy().Queue != slackinbox.DefaultQueue {
		t.Errorf("defaults: %q %q", in.Name(), in.Policy().Queue)
	}
}

// Through the real worker: a 429 with Retry-After: 30 schedules the retry
// 30 seconds out (the inbox package's retry delay honours it over the
// backoff); the retry, run early here, posts the message once, and the
// job is not posted again afterwards.
func TestWorkerRateLimitDelaysTheRetry(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	in, _, attempts := startWorker(t, poster(t, srv, slackinbox.NewGormThreads(testDB)), nil)

	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 30 * time.Second})
	res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"}))
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Event

	a := nextAttempt(t, attempts)
	var ra *inbox.RetryAfterError
	if a.n != 1 || !errors.As(a.err, &ra) || ra.Delay != 30*time.Second {
		t.Fatalf("attempt %d: %v; want attempt 1 asking inbox.RetryAfter(30s)", a.n, a.err)
	}
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	id := inbox.TaskID(in.Name(), ev.Ref())
	var info *asynq.TaskInfo
	waitUntil(t, wait, "the job to wait for its retry", func() bool {
		info, err = insp.GetTaskInfo(slackinbox.DefaultQueue, id)
		return err == nil && info.State == asynq.TaskStateRetry
	})
	// asynq keeps the time in whole seconds.
	if d := info.NextProcessAt.Sub(a.at); d < 29*time.Second || d > 31*time.Second {
		t.Fatalf("retry scheduled %v after the 429, want Slack's 30s (not the 10ms backoff)", d)
	}
	if n := srv.Calls(slacktest.MethodPostMessage); n != 1 || len(srv.Messages()) != 0 {
		t.Fatalf("%d calls, %d messages before the retry", n, len(srv.Messages()))
	}

	if err := insp.RunTask(slackinbox.DefaultQueue, id); err != nil {
		t.Fatal(err)
	}
	if a := nextAttempt(t, attempts); a.n != 2 || a.err != nil {
		t.Fatalf("attempt %d: %v; want attempt 2 to post", a.n, a.err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil || msgs[0].Channel != "CISSUES" {
		t.Fatalf("messages %+v, %v", msgs, err)
	}
	// The job once more (a re-drive, a duplicate): the ledger says sent.
	mustDeliver(t, in, ev)
	if n := srv.Calls(slacktest.MethodPostMessage); n != 2 || len(srv.Messages()) != 1 {
		t.Fatalf("%d calls, %d messages; want the 429 and one post", n, len(srv.Messages()))
	}
}

// attempt is one run of a delivery by the worker startWorker starts.
type attempt struct {
	n   int // the delivery's attempt, from 1
	err error
	at  time.Time
}

// startWorker empties the package's Redis database and starts a worker
// of its own (stopped when the test ends) with one Slack inbox publishing
// through pub, retrying after 10 ms and checking for due retries every
// 50 ms; tune, when not nil, changes the worker's configuration first.
// Each attempt the worker runs comes on attempts (nextAttempt).
func startWorker(t *testing.T, pub slackinbox.Publisher, tune func(*inbox.Config)) (in *slackinbox.Inbox, w *inbox.Worker, attempts <-chan attempt) {
	t.Helper()
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{
		Name: unique("slack"), Publisher: pub,
		Policy: inbox.Policy{Backoff: func(int) time.Duration { return 10 * time.Millisecond }},
	})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan attempt, 16)
	cfg := inbox.Config{
		DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
		Middleware: []inbox.Middleware{func(next inbox.ProcessFunc) inbox.ProcessFunc {
			return func(ctx context.Context, d *inbox.Delivery) error {
				err := next(ctx, d)
				ran <- attempt{n: d.Attempt, err: err, at: time.Now()}
				return err
			}
		}},
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Logger:                   testLogger(),
	}
	if tune != nil {
		tune(&cfg)
	}
	if w, err = inbox.NewWorker(cfg); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return in, w, ran
}

// nextAttempt returns the worker's next attempt, failing the test unless
// one comes within wait.
func nextAttempt(t *testing.T, attempts <-chan attempt) attempt {
	t.Helper()
	select {
	case a := <-attempts:
		return a
	case <-time.After(wait):
		t.Fatal("no attempt within the deadline")
	}
	return attempt{}
}

// waitUntil re-checks cond every few milliseconds until it holds, failing
// the test at the deadline. It is for state kept outside this process
// (asynq's Redis keys), which cannot signal us.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}
