package email_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// attempt is one Process call the worker made, as a middleware saw it.
type attempt struct {
	event activity.EventRef
	n     int
	err   error
}

// recordAttempts is a worker middleware sending every attempt's outcome
// to ch.
func recordAttempts(ch chan<- attempt) inbox.Middleware {
	return func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			err := next(ctx, d)
			ch <- attempt{event: d.Event.Ref(), n: d.Attempt, err: err}
			return err
		}
	}
}

func nextAttempt(t *testing.T, ch <-chan attempt) attempt {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(wait):
		t.Fatal("no attempt within the deadline")
	}
	return attempt{}
}

// Through the real worker (relay, asynq, retries): a 550 is not retried
// (the recipient is refused and suppressed, the job done); a 421 is retried and the mail then
// arrives, once.
func TestWorker550IsNotRetried421Is(t *testing.T) {
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{
		Name:       unique("mail"),
		Recipients: fixed(ana, bob),
		Policy:     inbox.Policy{MaxRetry: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }},
	})
	attempts := make(chan attempt, 16)
	w, err := inbox.NewWorker(inbox.Config{
		DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
		Middleware:               []inbox.Middleware{recordAttempts(attempts)},
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Logger:                   testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	record := func() activity.Event {
		res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added",
			activity.Actor(activity.Ref{Type: "users", ID: ana.ID, Label: "Ana"}), activity.Extra{"body": "hello"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Event
	}
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()

	// 550: one attempt; the recipient is refused for good (ledger) and
	// suppressed; the job is done, not retried and not a dead letter.
	srv.FailNext(1, smtptest.Failure{Code: 550, Message: "no such user", Stage: smtptest.StageRcpt})
	ev1 := record()
	a := nextAttempt(t, attempts)
	if a.event != ev1.Ref() || a.n != 1 || a.err != nil {
		t.Fatalf("attempt %+v; want attempt 1 of %s done with bob refused", a, ev1.Ref())
	}
	waitUntil(t, wait, "the 550 job to complete", func() bool {
		info, err := insp.GetTaskInfo(email.DefaultQueue, inbox.TaskID(in.Name(), ev1.Ref()))
		return err == nil && info.State == asynq.TaskStateCompleted
	})
	if p, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(p.Letters) != 0 {
		t.Fatalf("dead letters %+v, %v; want none for a refused recipient", p.Letters, err)
	}
	if s, err := inbox.Suppressed(ctx, testDB, inbox.ChannelEmail, []string{bob.Email}); err != nil || s[bob.Email].Reason != inbox.ReasonHardBounce {
		t.Fatalf("suppressions %+v, %v; want bob as a hard bounce", s, err)
	}
	if _, err := inbox.Unsuppress(ctx, testDB, inbox.ChannelEmail, bob.Email); err != nil {
		t.Fatal(err)
	}

	// 421: attempt 1 fails temporarily, attempt 2 sends.
	srv.FailNext(1, smtptest.Failure{Code: 421, Message: "shutting down"})
	ev2 := record()
	a = nextAttempt(t, attempts)
	if a.event != ev2.Ref() || a.n != 1 || a.err == nil || inbox.IsPermanent(a.err) {
		t.Fatalf("attempt %+v; want attempt 1 of %s failing temporarily", a, ev2.Ref())
	}
	a = nextAttempt(t, attempts)
	if a.event != ev2.Ref() || a.n != 2 || a.err != nil {
		t.Fatalf("attempt %+v; want attempt 2 of %s succeeding", a, ev2.Ref())
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].To[0] != "bob@example.com" || srv.Transactions() != 3 {
		t.Fatalf("%d mails in %d transactions; want bob's one mail after 550, 421, success", len(msgs), srv.Transactions())
	}
	if got := msgs[0].Header.Get("Message-Id"); got != "<"+email.MessageID("example.com", ev2.Ref(), "bob@example.com")+">" {
		t.Errorf("Message-Id %q", got)
	}
	select {
	case a := <-attempts:
		t.Fatalf("unexpected attempt %+v", a)
	default:
	}
}
