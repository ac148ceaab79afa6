package email_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The breaker windows of the resume tests: an outage of "5 minutes"
// scaled to several doublings of OpenFor up to MaxOpenFor, the probe
// interval. asynq keeps retry times in whole seconds (a RetryAfter is
// rounded up to the next one), so the bound on a resume is one probe
// interval plus that second.
var resumeBreakers = inbox.BreakerConfig{Failures: 3, OpenFor: 500 * time.Millisecond, MaxOpenFor: 2 * time.Second}

// resumeBound: the promise is one probe interval (MaxOpenFor) plus
// asynq's second, 3s here, and a quiet machine shows 1.0-3.1s. CI runs
// every package at once on 2 cores, where one run took 6.0s (a probe or
// the forwarder a second or more late, twice). The behaviour this guards
// against took a minute or more (the email inbox's first backoff is one
// minute, grown by the held attempts), so the bound is three probe
// intervals, each with asynq's second: still a twentieth of that.
const resumeBound = 3 * (2*time.Second + time.Second)

// resumeWorkers starts n workers sharing one Redis database, each running
// in with the email inbox's own policy (its backoff: 1 minute to 1 hour),
// and returns them with their breakers' transitions.
func resumeWorkers(t *testing.T, in inbox.Inbox, n int) ([]*inbox.Worker, func() []string) {
	t.Helper()
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var transitions []string
	var ws []*inbox.Worker
	for i := range n {
		w, err := inbox.NewWorker(inbox.Config{
			DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
			DelayedTaskCheckInterval: 50 * time.Millisecond,
			Breakers:                 resumeBreakers,
			DisableRelay:             i > 0,
			Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
			Logger:                   testLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		w.OnBreakerChange(func(s inbox.BreakerState) {
			mu.Lock()
			transitions = append(transitions, s.State)
			mu.Unlock()
		})
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Shutdown)
		ws = append(ws, w)
	}
	return ws, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), transitions...)
	}
}

func count(states []string, s string) int {
	n := 0
	for _, x := range states {
		if x == s {
			n++
		}
	}
	return n
}

// Held is not failed. The SMTP server is down long enough for the
// breakers of two workers (sharing one Redis) to open and their probes to
// fail until the probe interval reaches MaxOpenFor, with the email inbox's
// own backoff (1 minute to 1 hour): the mails' jobs are attempted, held
// and retried many times meanwhile. When the server answers again, every
// mail arrives once, all within one probe interval: no job's backoff
// counted the attempts the breaker held (before, one waited its backoff
// for asynq's count: minutes).
func TestHeldMailGoesWithinAProbeIntervalOfTheServersReturn(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{Name: unique("resume-mail"), Recipients: fixed(bob)})
	ws, seen := resumeWorkers(t, in, 2)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	issueID := newIssueID(t)
	const mails = 40
	var events []activity.Event
	for range mails {
		events = append(events, recordComment(t, issueID, ana))
	}
	// Probes fail until the breaker waits MaxOpenFor between them (0.5s,
	// 1s, 2s): the "5 minutes" of the scaled outage.
	waitUntil(t, 30*time.Second, "failed probes up to MaxOpenFor", func() bool {
		return count(seen(), inbox.BreakerOpen) >= 5
	})
	if p, err := ws[0].DeadLetters().List(context.Background(), inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(p.Letters) != 0 {
		t.Fatalf("dead letters during the outage: %+v %v", p.Letters, err)
	}
	// Every job waiting meanwhile comes back by the next probe, not after
	// a backoff grown by the attempts held.
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	retrying, err := insp.ListRetryTasks(inbox.PolicyOf(in).Queue)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range retrying {
		if d := time.Until(task.NextProcessAt); d > resumeBreakers.MaxOpenFor+time.Second {
			t.Errorf("a job held for the sink retries in %v (retried %d times, last error %q); want by the next probe (%v)", d.Round(time.Second), task.Retried, task.LastErr, resumeBreakers.MaxOpenFor)
		}
	}
	if len(retrying) == 0 {
		t.Fatal("no job waits in the retry set during the outage")
	}
	back := time.Now()
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(mails, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(back)
	waitUntil(t, wait, "every delivery to be marked done", func() bool { return pendingRowsOf(t, in.Name()) == 0 })
	// A worker that no job reached since the return closes its breaker on
	// the other's note in Redis, at its next status (2s).
	waitUntil(t, wait, "every worker's breaker to close", func() bool {
		for _, w := range ws {
			for _, b := range w.Breakers() {
				if b.State != inbox.BreakerClosed {
					return false
				}
			}
		}
		return true
	})
	for _, w := range ws {
		w.Shutdown()
	}
	ids := map[string]int{}
	for _, m := range srv.Messages() {
		ids[m.Header.Get("Message-Id")]++
	}
	for _, ev := range events {
		if n := ids["<"+email.MessageID("example.com", ev.Ref(), bob.Email)+">"]; n != 1 {
			t.Errorf("event %d: %d mails, want 1", ev.ID, n)
		}
	}
	if n := len(srv.Messages()); n != mails {
		t.Errorf("%d mails, want %d", n, mails)
	}
	if took > resumeBound {
		t.Errorf("the last mail arrived %v after the server answered again; want within %v (one probe interval of %v plus asynq's second, three times over for a loaded machine)", took, resumeBound, resumeBreakers.MaxOpenFor)
	}
	if p, err := ws[0].DeadLetters().List(context.Background(), inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(p.Letters) != 0 {
		t.Errorf("dead letters: %+v %v", p.Letters, err)
	}
	var held int64
	for _, w := range ws {
		for _, b := range w.Breakers() {
			held += b.Held
			if b.State != inbox.BreakerClosed {
				t.Errorf("a worker's breaker is %s after the return", b.State)
			}
		}
	}
	t.Logf("all %d mails %v after the server's return (bound %v); %d attempts held; transitions %v", mails, took.Round(time.Millisecond), resumeBound, held, seen())
}

// The same outage against Debian's aiosmtpd (killed, then started again on
// its port), an SMTP server this project did not write: every mail once,
// all within one probe interval of its return.
func TestHeldMailResumesAgainstAiosmtpd(t *testing.T) {
	peer := startAiosmtpd(t)
	s, err := email.NewSender(email.Config{Host: peer.Host(), Port: peer.Port(), TLS: email.TLSNone, Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, nil, email.InboxConfig{Name: unique("resume-aiosmtpd"), Recipients: fixed(bob), Transport: s})
	_, seen := resumeWorkers(t, in, 1)

	peer.stop()
	issueID := newIssueID(t)
	const mails = 20
	var events []activity.Event
	for range mails {
		events = append(events, recordComment(t, issueID, ana))
	}
	waitUntil(t, 30*time.Second, "failed probes up to MaxOpenFor", func() bool {
		return count(seen(), inbox.BreakerOpen) >= 3
	})
	back := time.Now()
	peer.start()
	ids, ok := peer.waitFor(mails, 60*time.Second)
	if !ok {
		t.Fatalf("aiosmtpd did not receive %d mails within a minute of its return", mails)
	}
	took := time.Since(back)
	waitUntil(t, wait, "every delivery to be marked done", func() bool { return pendingRowsOf(t, in.Name()) == 0 })
	for _, ev := range events {
		if n := ids["<"+email.MessageID("example.com", ev.Ref(), bob.Email)+">"]; n != 1 {
			t.Errorf("event %d: %d mails, want 1", ev.ID, n)
		}
	}
	// aiosmtpd takes a moment to start: its return is when it said ready.
	if took > resumeBound+2*time.Second {
		t.Errorf("the last mail arrived %v after aiosmtpd was started again; want within %v (three probe intervals of %v with asynq's second, and its start)", took, resumeBound+2*time.Second, resumeBreakers.MaxOpenFor)
	}
	t.Logf("all %d mails %v after aiosmtpd was started again; transitions %v", mails, took.Round(time.Millisecond), seen())
}
