package email_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/observe"
)

// digestWorker returns a digest inbox (each of to chose a digest of a
// one-second window) whose windows are flushed by their scheduled tasks,
// served by a worker that shares its breaker of the SMTP server with the
// flushes (batch.UseWorkerBreakers, as tidings.NewClient does), and the
// breaker's transitions.
func digestWorker(t *testing.T, transport email.Transport, breakers inbox.BreakerConfig, to ...email.Recipient) (*email.Inbox, *inbox.Worker, func() []string) {
	t.Helper()
	ctx := context.Background()
	defaults := &inbox.Defaults{}
	for _, r := range to {
		if err := defaults.SetChoice(ctx, testDB, r.ID, inbox.ChannelEmail, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	client := asynq.NewClient(redisOpt)
	t.Cleanup(func() { _ = client.Close() })
	in := newInbox(t, nil, email.InboxConfig{Name: unique("digest-breaker"), Recipients: fixed(to...), Transport: transport,
		DB: testDB, Defaults: defaults, Batching: &email.BatchingConfig{Scheduler: &batch.AsynqScheduler{Client: client}}})
	ws, seen := resumeWorkersWith(t, in, 1, func(c *inbox.Config) {
		c.DisableRelay = true
		c.Breakers = breakers
		c.Queues = map[string]int{batch.DefaultQueue: 1}
		c.Tasks = map[string]asynq.Handler{batch.TaskType: batch.Handler(in.Batcher())}
	}, func(w *inbox.Worker) {
		if n := batch.UseWorkerBreakers(w, in); n != 1 {
			t.Fatalf("UseWorkerBreakers gave %d batchers a breaker; want 1", n)
		}
	})
	return in, ws[0], seen
}

type windowRow struct {
	ID            int64
	Recipient     string
	Status        string
	Attempts      int
	NextAttemptAt *time.Time
	LastError     *string
}

func windowsOf(t *testing.T, inboxName string) []windowRow {
	t.Helper()
	var rows []windowRow
	if err := testDB.Raw(`SELECT id, recipient, status, attempts, next_attempt_at, last_error FROM batch_windows WHERE inbox = ? ORDER BY id`, inboxName).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// Held is not failed, for digests too. The SMTP server is down when the
// digests of five people fall due: their flushes go through the breaker
// the worker's single mails go through (it opens, its probes fail up to
// MaxOpenFor), no window spends an attempt, each waits for the next probe
// (not the batcher's one-minute backoff), and nothing fails. When the
// server answers again every digest arrives once, within the bound of the
// single mails (TestHeldMailGoesWithinAProbeIntervalOfTheServersReturn).
func TestHeldDigestGoesWithinAProbeIntervalOfTheServersReturn(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	var to []email.Recipient
	for i := range 5 {
		to = append(to, person(fmt.Sprintf("Digest%d", i)))
	}
	in, w, seen := digestWorker(t, sender(t, srv), resumeBreakers, to...)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eve := person("Eve")
	for range 3 {
		if err := inboxtest.Process(t, testDB, in, newEvent("42", "comment_added", eve, nil)); err != nil {
			t.Fatal(err)
		}
	}
	// The digests' windows (batch_windows) go through the outage as the
	// escalations' rows do.
	heldThroughOutage(t, srv, w, seen, "batch_windows", in, to)
}

// A server that refuses the configuration (mandatory TLS, no STARTTLS) is
// not an outage for a digest either: its window fails at once, saying
// why, and health reports the sink down with the reason, as for a single
// mail (TestMisconfiguredSinkFailsAtOnceWithTheReason).
func TestMisconfiguredDigestFailsAtOnceWithTheReason(t *testing.T) {
	ctx := context.Background()
	plain := smtptest.Start(t, smtptest.Config{})
	s, err := email.NewSender(email.Config{Host: plain.Host(), Port: plain.Port(), TLS: email.TLSMandatory, Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	bob := person("Bob")
	in, w, _ := digestWorker(t, s, inbox.BreakerConfig{Failures: 1}, bob)
	if err := inboxtest.Process(t, testDB, in, newEvent("42", "comment_added", person("Eve"), nil)); err != nil {
		t.Fatal(err)
	}
	var rows []windowRow
	waitUntil(t, 30*time.Second, "the window to fail", func() bool {
		rows = windowsOf(t, in.Name())
		return len(rows) == 1 && rows[0].Status != "open" && rows[0].Status != "sending"
	})
	if r := rows[0]; r.Status != "failed" || r.Attempts != 1 || !strings.Contains(deref(r.LastError), email.MisconfiguredNoSTARTTLS) {
		t.Errorf("window %s after %d attempts, last error %q; want failed after one, saying %q", r.Status, r.Attempts, deref(r.LastError), email.MisconfiguredNoSTARTTLS)
	}
	r := observe.BreakersCheck(w).Check(ctx)
	if r.Status != observe.StatusDown || !strings.Contains(r.Detail, s.Sink()) || !strings.Contains(r.Detail, email.MisconfiguredNoSTARTTLS) {
		t.Errorf("health %+v; want down naming %s and %q", r, s.Sink(), email.MisconfiguredNoSTARTTLS)
	}
	if n := len(plain.Messages()); n != 0 {
		t.Errorf("%d mails sent", n)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// resumeWorkersWith is resumeWorkers with the worker's Config changed by
// change, and prepare run on each worker before it starts.
func resumeWorkersWith(t *testing.T, in inbox.Inbox, n int, change func(*inbox.Config), prepare func(*inbox.Worker)) ([]*inbox.Worker, func() []string) {
	t.Helper()
	if _, err := redistest.Flush(context.Background(), redisDB); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var transitions []string
	var ws []*inbox.Worker
	for range n {
		cfg := inbox.Config{
			DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
			DelayedTaskCheckInterval: 50 * time.Millisecond,
			Breakers:                 resumeBreakers,
			Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
			Logger:                   testLogger(),
		}
		change(&cfg)
		w, err := inbox.NewWorker(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.OnBreakerChange(func(s inbox.BreakerState) {
			mu.Lock()
			transitions = append(transitions, s.State)
			mu.Unlock()
		})
		prepare(w)
		if err := w.Start(context.Background()); err != nil {
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

// A probe by a single mail releases the digests held for the same server.
// The breaker's probe interval is an hour, so the windows held while the
// server is down are due again an hour out: only the release brings them
// back within the bound. The worker's clock then jumps past the probe
// time, the server answers again, and the next event's immediate mail is
// the probe: every held digest arrives within seconds.
func TestProbeReleasesHeldDigests(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	carol := person("Carol") // immediate
	var digests []email.Recipient
	for i := range 3 {
		digests = append(digests, person(fmt.Sprintf("Released%d", i)))
	}
	defaults := &inbox.Defaults{}
	for _, r := range digests {
		if err := defaults.SetChoice(ctx, testDB, r.ID, inbox.ChannelEmail, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	client := asynq.NewClient(redisOpt)
	t.Cleanup(func() { _ = client.Close() })
	in := newInbox(t, srv, email.InboxConfig{Name: unique("digest-release"), Recipients: fixed(append([]email.Recipient{carol}, digests...)...),
		DB: testDB, Defaults: defaults, Batching: &email.BatchingConfig{Scheduler: &batch.AsynqScheduler{Client: client}}})
	const probeEvery = time.Hour
	var skew atomic.Int64
	ws, _ := resumeWorkersWith(t, in, 1, func(c *inbox.Config) {
		c.Breakers = inbox.BreakerConfig{Failures: 1, OpenFor: probeEvery, MaxOpenFor: probeEvery}
		c.Queues = map[string]int{batch.DefaultQueue: 1}
		c.Tasks = map[string]asynq.Handler{batch.TaskType: batch.Handler(in.Batcher())}
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}, func(w *inbox.Worker) { batch.UseWorkerBreakers(w, in) })
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	issueID := newIssueID(t)
	recordComment(t, issueID, person("Eve"))
	waitUntil(t, 30*time.Second, "every digest held an hour out", func() bool {
		rows := windowsOf(t, in.Name())
		for _, r := range rows {
			if r.Status != "retry" || r.NextAttemptAt == nil || time.Until(*r.NextAttemptAt) < probeEvery-time.Minute {
				return false
			}
		}
		return len(rows) == len(digests)
	})
	if b := ws[0].Breakers(); len(b) != 1 || b[0].State != inbox.BreakerOpen {
		t.Fatalf("breakers %+v; want the server's open", b)
	}
	held := map[int64]bool{}
	for _, r := range windowsOf(t, in.Name()) {
		held[r.ID] = true
	}

	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(probeEvery + time.Second))
	back := time.Now()
	recordComment(t, issueID, person("Eve")) // Carol's mail probes
	const bound = 10 * time.Second           // without the release: an hour
	// The next event opens new windows for them: the held ones must go.
	waitUntil(t, bound, "the held digests", func() bool {
		sent := 0
		for _, r := range windowsOf(t, in.Name()) {
			if held[r.ID] && r.Status == "sent" {
				sent++
			}
		}
		return sent == len(held)
	})
	t.Logf("%d held digests %v after the server's return", len(digests), time.Since(back).Round(time.Millisecond))
}
