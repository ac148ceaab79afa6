package email_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// outageWorker runs a worker with in on the test databases, windows and
// breakers scaled down, and returns it with a channel of attempts.
func outageWorker(t *testing.T, in inbox.Inbox, breakers inbox.BreakerConfig) (*inbox.Worker, chan attempt) {
	t.Helper()
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
	attempts := make(chan attempt, 10000)
	w, err := inbox.NewWorker(inbox.Config{
		DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
		Middleware:               []inbox.Middleware{recordAttempts(attempts)},
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Breakers:                 breakers,
		Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
		Logger:                   testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, attempts
}

func newIssueID(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	return id
}

func recordComment(t *testing.T, issueID int64, actor email.Recipient) activity.Event {
	t.Helper()
	res, err := issues.RecordEvent(context.Background(), testDB, issueID, "comment_added",
		activity.Actor(activity.Ref{Type: "users", ID: actor.ID, Label: actor.Name}), activity.Extra{"body": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Event
}

// The SMTP server is down for much longer than the whole retry window
// (scaled down: a 300ms window, the server down for 2s): the breaker
// opens after 3 transport failures and holds the mails (no window spent,
// nothing dead-lettered), probes, and closes when the server is back;
// every mail then arrives exactly once. The transitions are asserted.
func TestSMTPDownLongerThanTheRetryWindow(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("down-mail"), Recipients: fixed(bob),
		Policy: inbox.Policy{RetryWindow: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }},
	})
	w, _ := outageWorker(t, in, inbox.BreakerConfig{Failures: 3, OpenFor: 200 * time.Millisecond, MaxOpenFor: 400 * time.Millisecond})
	var mu sync.Mutex
	var transitions []string
	w.OnBreakerChange(func(s inbox.BreakerState) {
		mu.Lock()
		transitions = append(transitions, s.State)
		mu.Unlock()
	})
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), transitions...)
	}
	ctx := context.Background()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	issueID := newIssueID(t)
	const mails = 20
	var events []activity.Event
	for range mails {
		events = append(events, recordComment(t, issueID, ana))
	}
	waitUntil(t, wait, "the breaker to open", func() bool {
		for _, b := range w.Breakers() {
			if b.Sink == in.Sink() && b.State == inbox.BreakerOpen {
				return true
			}
		}
		return false
	})
	// Down for several windows, with probes failing meanwhile.
	waitUntil(t, wait, "a failed probe", func() bool {
		n := 0
		for _, s := range seen() {
			if s == inbox.BreakerOpen {
				n++
			}
		}
		return n >= 2
	})
	if p, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(p.Letters) != 0 {
		t.Fatalf("dead letters during the outage: %+v %v", p.Letters, err)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(mails, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, wait, "the breaker to close", func() bool {
		bs := w.Breakers()
		return len(bs) == 1 && bs[0].State == inbox.BreakerClosed
	})
	waitUntil(t, wait, "every delivery to be marked done", func() bool { return pendingRowsOf(t, in.Name()) == 0 })
	w.Shutdown()
	msgs = srv.Messages()
	ids := map[string]int{}
	for _, m := range msgs {
		ids[m.Header.Get("Message-Id")]++
	}
	for _, ev := range events {
		if n := ids["<"+email.MessageID("example.com", ev.Ref(), bob.Email)+">"]; n != 1 {
			t.Errorf("event %d: %d mails, want 1", ev.ID, n)
		}
	}
	if len(msgs) != mails {
		t.Errorf("%d mails, want %d", len(msgs), mails)
	}
	if p, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()}); err != nil || len(p.Letters) != 0 {
		t.Errorf("dead letters: %+v %v", p.Letters, err)
	}
	// closed -> open -> half-open -> open (failed probe) ... -> half-open -> closed
	tr := seen()
	if len(tr) < 4 || tr[0] != inbox.BreakerOpen || tr[1] != inbox.BreakerHalfOpen || tr[len(tr)-2] != inbox.BreakerHalfOpen || tr[len(tr)-1] != inbox.BreakerClosed {
		t.Errorf("breaker transitions %v; want open, half-open, (open, half-open)..., closed", tr)
	}
	t.Logf("transitions %v; breaker %+v", tr, w.Breakers())
}

// A 451 (greylisting) for one recipient: the others are mailed at once,
// the greylisted one after GreylistWait, once.
func TestGreylistedRecipientIsMailedAfterTheWait(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	carol.Email = unique("carol") + "@example.com"
	const greylist = 700 * time.Millisecond
	in := newInbox(t, srv, email.InboxConfig{Name: unique("grey-mail"), Recipients: fixed(bob, carol), GreylistWait: greylist})
	w, attempts := outageWorker(t, in, inbox.BreakerConfig{})
	srv.FailRecipient(carol.Email, 1, smtptest.Failure{Code: 451, Message: "4.7.1 greylisted, try again later"})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	ev := recordComment(t, newIssueID(t), ana)
	a := nextAttempt(t, attempts)
	if a.err == nil || inbox.IsPermanent(a.err) {
		t.Fatalf("attempt %+v; want a temporary failure for the greylisted recipient", a)
	}
	first := time.Now()
	a = nextAttempt(t, attempts)
	waited := time.Since(first)
	if a.err != nil || a.n != 2 {
		t.Fatalf("attempt %+v; want attempt 2 to mail carol", a)
	}
	if waited < greylist-100*time.Millisecond {
		t.Errorf("retried after %v; greylisting asked for %v", waited, greylist)
	}
	msgs := srv.Messages()
	got := map[string]int{}
	for _, m := range msgs {
		got[m.To[0]]++
	}
	if len(msgs) != 2 || got[bob.Email] != 1 || got[carol.Email] != 1 {
		t.Errorf("mails %v; want bob and carol once each", got)
	}
	if n := srv.RcptAttempts(carol.Email); n != 2 {
		t.Errorf("carol was tried %d times, want 2 (451, then accepted)", n)
	}
	_ = ev
}

// A 550 for one of three recipients: the other two are mailed once, the
// refused one is tried once, never again for that event, and is
// suppressed for every later one.
func TestRefusedRecipientIsTriedOnceThenSuppressed(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol, dan, eve := person("Ana"), person("Bob"), person("Carol"), person("Dan"), person("Eve")
	dan.Email = unique("dan") + "@example.com"
	eve.Email = unique("eve") + "@example.com"
	in := newInbox(t, srv, email.InboxConfig{Name: unique("refuse-mail"), Recipients: fixed(bob, carol, dan, eve), GreylistWait: 100 * time.Millisecond})
	w, attempts := outageWorker(t, in, inbox.BreakerConfig{})
	srv.FailRecipient(dan.Email, -1, smtptest.Failure{Code: 550, Message: "5.1.1 no such user"})
	// eve's server refuses this one message for good (a policy refusal,
	// not a bad address): refused for this delivery, not suppressed.
	srv.FailRecipient(eve.Email, 1, smtptest.Failure{Code: 554, Message: "5.7.1 message refused"})
	// carol's first try fails temporarily, so the job is retried: the
	// retry must not try dan again.
	srv.FailRecipient(carol.Email, 1, smtptest.Failure{Code: 452, Message: "4.2.2 mailbox full"})
	ctx := context.Background()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	issueID := newIssueID(t)
	ev := recordComment(t, issueID, ana)
	a := nextAttempt(t, attempts)
	if a.err == nil || inbox.IsPermanent(a.err) {
		t.Fatalf("attempt %+v; want a temporary failure (carol's 452)", a)
	}
	if a = nextAttempt(t, attempts); a.err != nil {
		t.Fatalf("attempt %+v; want the retry to mail carol", a)
	}
	if n := srv.RcptAttempts(dan.Email); n != 1 {
		t.Errorf("dan was tried %d times for one event, want once", n)
	}
	if n := srv.RcptAttempts(eve.Email); n != 1 {
		t.Errorf("eve was tried %d times for one event, want once (refused, recorded in the ledger)", n)
	}
	if e, _, _ := inbox.NewLedger(inbox.LedgerConfig{}).Lookup(ctx, testDB, inbox.Key{Inbox: in.Name(), Event: ev.Ref(), Recipient: eve.ID}); e.Status != inbox.StatusRefused {
		t.Errorf("eve's ledger row %+v, want refused", e)
	}
	s, err := inbox.Suppressed(ctx, testDB, inbox.ChannelEmail, []string{dan.Email})
	if err != nil || s[dan.Email].Reason != inbox.ReasonHardBounce {
		t.Fatalf("suppressions %+v %v; want dan as a hard bounce", s, err)
	}
	// A later event: bob and carol are mailed, dan is not tried at all.
	ev2 := recordComment(t, issueID, ana)
	if a = nextAttempt(t, attempts); a.err != nil || a.event != ev2.Ref() {
		t.Fatalf("attempt %+v; want the second event mailed", a)
	}
	if n := srv.RcptAttempts(dan.Email); n != 1 {
		t.Errorf("dan was tried %d times in all, want once (suppressed since)", n)
	}
	if n := srv.RcptAttempts(eve.Email); n != 2 {
		t.Errorf("eve was tried %d times in all, want twice (once per event: a refusal is not a suppression)", n)
	}
	got := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.To[0]]++
	}
	if got[bob.Email] != 2 || got[carol.Email] != 2 || got[dan.Email] != 0 || got[eve.Email] != 1 {
		t.Errorf("mails %v; want bob and carol twice (once per event), dan never, eve for the second event", got)
	}
	// Removing the suppression lets the next event reach dan's server again.
	if ok, err := inbox.Unsuppress(ctx, testDB, inbox.ChannelEmail, dan.Email); err != nil || !ok {
		t.Fatalf("unsuppress: %v %v", ok, err)
	}
	recordComment(t, issueID, ana)
	nextAttempt(t, attempts)
	if n := srv.RcptAttempts(dan.Email); n != 2 {
		t.Errorf("dan was tried %d times after the suppression was removed, want 2", n)
	}
}

func pendingRowsOf(t *testing.T, inboxName string) int64 {
	t.Helper()
	var n int64
	if err := testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE inbox = ?`, inboxName).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
