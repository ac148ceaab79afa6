package email_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/observe"
)

// flushWorker starts a worker running in whose breaker of the SMTP server
// the mails of in's Flush go through (UseWorkerBreaker, as
// tidings.NewClient calls it), and RunFlush every 100ms, as an app runs
// it; it returns the worker and its breaker's transitions.
func flushWorker(t *testing.T, in *email.Inbox) (*inbox.Worker, func() []string) {
	t.Helper()
	ws, seen := resumeWorkersWith(t, in, 1, func(c *inbox.Config) { c.DisableRelay = true }, func(w *inbox.Worker) {
		if !in.UseWorkerBreaker(w) {
			t.Fatal("UseWorkerBreaker gave the inbox no breaker")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = in.RunFlush(ctx, 100*time.Millisecond)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ws[0], seen
}

type flushRow struct {
	Recipient     string
	Status        string
	Attempts      int
	NextAttemptAt *time.Time
	LastError     *string
}

func flushRows(t *testing.T, table, inboxName string) []flushRow {
	t.Helper()
	var rows []flushRow
	if err := testDB.Raw(`SELECT recipient, status, attempts, next_attempt_at, last_error FROM `+table+` WHERE inbox = ? ORDER BY id`, inboxName).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// heldThroughOutage waits for the breaker's probes to fail up to
// MaxOpenFor, checks that none of in's rows of table failed or spent an
// attempt and that each waits for the next probe, then brings srv back
// and checks that each of to is mailed once within resumeBound.
func heldThroughOutage(t *testing.T, srv *smtptest.Server, w *inbox.Worker, seen func() []string, table string, in *email.Inbox, to []email.Recipient) {
	t.Helper()
	waitUntil(t, 30*time.Second, "failed probes up to MaxOpenFor", func() bool {
		return count(seen(), inbox.BreakerOpen) >= 3
	})
	rows := flushRows(t, table, in.Name())
	if len(rows) != len(to) {
		t.Fatalf("%d rows in %s, want %d", len(rows), table, len(to))
	}
	for _, r := range rows {
		if r.Status == "failed" || r.Status == "sent" {
			t.Fatalf("mail of %s is %s during the outage (last error %v)", r.Recipient, r.Status, deref(r.LastError))
		}
		if r.Status != "retry" {
			continue // being flushed (a probe) right now
		}
		if r.Attempts != 0 {
			t.Errorf("mail of %s spent %d attempts on the outage; want 0 (held is not failed)", r.Recipient, r.Attempts)
		}
		if d := time.Until(*r.NextAttemptAt); d > resumeBreakers.MaxOpenFor+time.Second {
			t.Errorf("mail of %s retries in %v (last error %q); want by the next probe (%v)", r.Recipient, d.Round(time.Second), deref(r.LastError), resumeBreakers.MaxOpenFor)
		}
	}
	back := time.Now()
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(len(to), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(back)
	got := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.To[0]]++
	}
	for _, r := range to {
		if got[r.Email] != 1 {
			t.Errorf("%s got %d mails, want 1", r.Email, got[r.Email])
		}
	}
	if took > resumeBound {
		t.Errorf("the last mail arrived %v after the server answered again; want within %v (one probe interval of %v plus a second, three times over for a loaded machine)", took, resumeBound, resumeBreakers.MaxOpenFor)
	}
	waitUntil(t, wait, "every row marked sent", func() bool {
		for _, r := range flushRows(t, table, in.Name()) {
			if r.Status != "sent" {
				return false
			}
		}
		return true
	})
	var held int64
	for _, b := range w.Breakers() {
		held += b.Held
		if b.State != inbox.BreakerClosed {
			t.Errorf("the breaker is %s after the return", b.State)
		}
	}
	if held == 0 {
		t.Error("the breaker held no mail")
	}
	t.Logf("%d mails of %s %v after the server's return (bound %v); %d held; transitions %v", len(to), table, took.Round(time.Millisecond), resumeBound, held, seen())
}

// Held is not failed, for escalations: the SMTP server is down when five
// escalations fall due. Their sends go through the breaker the worker's
// single mails go through (it opens, its probes fail up to MaxOpenFor),
// none spends an attempt or fails, each waits for the next probe (not
// FlushPolicy's one-minute backoff), and when the server answers again
// each arrives once within one probe interval.
func TestHeldEscalationGoesWithinAProbeIntervalOfTheServersReturn(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	var to []email.Recipient
	for i := range 5 {
		to = append(to, person(fmt.Sprintf("Escalated%d", i)))
	}
	in := newInbox(t, srv, email.InboxConfig{Name: unique("escalate-breaker"), Recipients: fixed(to...),
		Escalation: &email.EscalationConfig{Delay: time.Millisecond}})
	w, seen := flushWorker(t, in)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, in, newEvent("42", "comment_added", person("Eve"), nil))
	heldThroughOutage(t, srv, w, seen, "email_escalations", in, to)
}

// The same for a digest left in the old tables by an upgrade, which
// Flush still drains.
func TestHeldLegacyDigestGoesWithinAProbeIntervalOfTheServersReturn(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	var to []email.Recipient
	for i := range 5 {
		to = append(to, person(fmt.Sprintf("Legacy%d", i)))
	}
	in := newInbox(t, srv, email.InboxConfig{Name: unique("legacy-breaker"), Recipients: fixed(to...), Digest: &email.DigestConfig{Period: email.Hourly}})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ev := newEvent("42", "comment_added", person("Eve"), nil)
	snap, _ := json.Marshal(ev)
	due := time.Now().Add(-time.Second)
	for _, r := range to {
		var id int64
		if err := testDB.Raw(`INSERT INTO email_digests (inbox, recipient, period_start, due_at, recipient_email, recipient_name) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			in.Name(), r.ID, due.Add(-time.Hour), due, r.Email, r.Name).Scan(&id).Error; err != nil {
			t.Fatal(err)
		}
		if err := testDB.Exec(`INSERT INTO email_digest_items (digest_id, domain, event_id, event) VALUES (?, 'issue', ?, ?::jsonb)`, id, ev.ID, string(snap)).Error; err != nil {
			t.Fatal(err)
		}
	}
	w, seen := flushWorker(t, in)
	heldThroughOutage(t, srv, w, seen, "email_digests", in, to)
}

// A server that refuses the configuration (mandatory TLS, no STARTTLS) is
// not an outage for an escalation either: it fails at once, saying why,
// and health reports the sink down with the reason.
func TestMisconfiguredEscalationFailsAtOnceWithTheReason(t *testing.T) {
	ctx := context.Background()
	plain := smtptest.Start(t, smtptest.Config{})
	s, err := email.NewSender(email.Config{Host: plain.Host(), Port: plain.Port(), TLS: email.TLSMandatory, Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	bob := person("Bob")
	in := newInbox(t, nil, email.InboxConfig{Name: unique("escalate-misconfigured"), Recipients: fixed(bob), Transport: s,
		Escalation: &email.EscalationConfig{Delay: time.Millisecond}})
	w, _ := flushWorker(t, in)
	mustDeliver(t, in, newEvent("42", "comment_added", person("Eve"), nil))
	var rows []flushRow
	waitUntil(t, 30*time.Second, "the escalation to fail", func() bool {
		rows = flushRows(t, "email_escalations", in.Name())
		return len(rows) == 1 && rows[0].Status != "pending" && rows[0].Status != "sending"
	})
	if r := rows[0]; r.Status != "failed" || r.Attempts != 1 || !strings.Contains(deref(r.LastError), email.MisconfiguredNoSTARTTLS) {
		t.Errorf("escalation %s after %d attempts, last error %q; want failed after one, saying %q", r.Status, r.Attempts, deref(r.LastError), email.MisconfiguredNoSTARTTLS)
	}
	r := observe.BreakersCheck(w).Check(ctx)
	if r.Status != observe.StatusDown || !strings.Contains(r.Detail, s.Sink()) || !strings.Contains(r.Detail, email.MisconfiguredNoSTARTTLS) {
		t.Errorf("health %+v; want down naming %s and %q", r, s.Sink(), email.MisconfiguredNoSTARTTLS)
	}
	if n := len(plain.Messages()); n != 0 {
		t.Errorf("%d mails sent", n)
	}
}

// A probe by a single mail releases the escalations held for the same
// server. The probe interval is an hour, so the escalations held while the
// server is down are due again an hour out: only the release brings them
// back within the bound. The worker's clock then jumps past the probe
// time, the server answers again, and the next event's immediate mail (by
// another inbox of the same server) is the probe.
func TestProbeReleasesHeldEscalations(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	carol := person("Carol") // immediate
	var escalated []email.Recipient
	for i := range 3 {
		escalated = append(escalated, person(fmt.Sprintf("Released%d", i)))
	}
	transport := sender(t, srv)
	esc := newInbox(t, nil, email.InboxConfig{Name: unique("escalate-release"), Recipients: fixed(escalated...), Transport: transport,
		Escalation: &email.EscalationConfig{Delay: time.Millisecond}})
	imm := newInbox(t, nil, email.InboxConfig{Name: unique("immediate-release"), Recipients: fixed(carol), Transport: transport})
	const probeEvery = time.Hour
	var skew atomic.Int64
	ws, _ := resumeWorkersWith(t, esc, 1, func(c *inbox.Config) {
		c.Inboxes = []inbox.Inbox{esc, imm}
		c.Breakers = inbox.BreakerConfig{Failures: 1, OpenFor: probeEvery, MaxOpenFor: probeEvery}
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}, func(w *inbox.Worker) {
		if !esc.UseWorkerBreaker(w) {
			t.Fatal("UseWorkerBreaker gave the inbox no breaker")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = esc.RunFlush(ctx, 100*time.Millisecond)
	}()
	t.Cleanup(func() { cancel(); <-done })
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, esc, newEvent("42", "comment_added", person("Eve"), nil))
	waitUntil(t, 30*time.Second, "every escalation held an hour out", func() bool {
		rows := flushRows(t, "email_escalations", esc.Name())
		for _, r := range rows {
			if r.Status != "retry" || r.NextAttemptAt == nil || time.Until(*r.NextAttemptAt) < probeEvery-time.Minute {
				return false
			}
		}
		return len(rows) == len(escalated)
	})
	if b := ws[0].Breakers(); len(b) != 1 || b[0].State != inbox.BreakerOpen {
		t.Fatalf("breakers %+v; want the server's open", b)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(probeEvery + time.Second))
	back := time.Now()
	recordComment(t, newIssueID(t), person("Eve")) // Carol's mail probes
	const bound = 10 * time.Second                 // without the release: an hour
	waitUntil(t, bound, "the held escalations", func() bool {
		for _, r := range flushRows(t, "email_escalations", esc.Name()) {
			if r.Status != "sent" {
				return false
			}
		}
		return true
	})
	t.Logf("%d held escalations %v after the server's return", len(escalated), time.Since(back).Round(time.Millisecond))
}
