package email_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

// unique returns a name no other test (or -count rerun) uses: inbox
// names key the digest and escalation rows, which outlive a test.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, eventSeq.Add(1)) }

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// hour is the hourly period holding t0 (09:30 UTC): 09:00 to 10:00.
var (
	hourStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	hourEnd   = hourStart.Add(time.Hour)
)

func flush(t *testing.T, in *email.Inbox, now time.Time) email.FlushResult {
	t.Helper()
	res, err := in.Flush(context.Background(), now)
	if err != nil {
		t.Fatalf("Flush(%s): %v", now.Format(time.TimeOnly), err)
	}
	return res
}

// eventAt is newEvent at a given time.
func eventAt(subject, action string, actor email.Recipient, at time.Time, extra map[string]any) activity.Event {
	ev := newEvent(subject, action, actor, extra)
	ev.OccurredAt = at
	return ev
}

// Five events in one period give one mail listing five, when the period
// ends and not before; nothing is listed again.
func TestDigestFiveEventsOneMail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0.Add(10 * time.Minute))
	ana, carol, bob := person("Ana"), person("Carol"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("digest"), Recipients: fixed(ana, bob), Now: clk.Now,
		Digest: &email.DigestConfig{Period: email.Hourly},
	})
	evs := []activity.Event{
		eventAt("42", "comment_added", ana, t0.Add(1*time.Minute), nil),
		eventAt("42", "status_changed", carol, t0.Add(2*time.Minute), nil),
		eventAt("43", "comment_added", carol, t0.Add(3*time.Minute), nil),
		eventAt("42", "comment_added", carol, t0.Add(4*time.Minute), nil),
		eventAt("43", "comment_added", ana, t0.Add(5*time.Minute), nil),
	}
	for _, ev := range evs {
		mustDeliver(t, in, ev)
	}
	mustDeliver(t, in, evs[0]) // processed again: the ledger skips it
	if n := srv.Transactions(); n != 0 {
		t.Fatalf("%d mails sent while queueing, want none", n)
	}
	if res := flush(t, in, hourEnd.Add(-time.Second)); res != (email.FlushResult{}) {
		t.Fatalf("flush before the period ended: %+v, want nothing", res)
	}
	if res := flush(t, in, hourEnd); res.Sent != 2 {
		t.Fatalf("flush at the period's end: %+v, want two mails (bob's, and ana's of carol's events)", res)
	}
	msgs := srv.Messages()
	byTo := map[string]smtptest.Message{}
	for _, m := range msgs {
		byTo[m.To[0]] = m
	}
	if len(msgs) != 2 || byTo["bob@example.com"].Subject == "" || byTo["ana@example.com"].Subject != "3 updates on 2 issues" {
		t.Fatalf("%d mails (%v); want bob's and ana's (3 updates: not her own)", len(msgs), envelopeTo(msgs))
	}
	m := byTo["bob@example.com"]
	if m.Subject != "5 updates on 2 issues" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, line := range []string{
		"- Ana commented on issue 42", "- Carol: status changed on issue 42", "- Carol commented on issue 42",
		"- Carol commented on issue 43", "- Ana commented on issue 43",
	} {
		if strings.Count(m.Text, line) != 1 {
			t.Errorf("%q listed %d times in:\n%s", line, strings.Count(m.Text, line), m.Text)
		}
	}
	refs := make([]activity.EventRef, len(evs))
	for i, ev := range evs {
		refs[i] = ev.Ref()
	}
	if want := "<" + email.DigestID("example.com", "bob@example.com", refs) + ">"; m.Header.Get("Message-Id") != want {
		t.Errorf("Message-Id %q, want %q", m.Header.Get("Message-Id"), want)
	}
	if got := m.Header.Get("List-Unsubscribe"); !strings.Contains(got, "what=digest") {
		t.Errorf("List-Unsubscribe %q, want the digest link", got)
	}

	// Nothing is sent twice, and a late event opens the next period.
	if res := flush(t, in, hourEnd.Add(time.Minute)); res != (email.FlushResult{}) {
		t.Fatalf("second flush: %+v, want nothing", res)
	}
	clk.Set(hourEnd.Add(5 * time.Minute))
	late := eventAt("42", "comment_added", ana, t0.Add(20*time.Minute), nil) // in the sent period, processed after it
	mustDeliver(t, in, late)
	if res := flush(t, in, hourEnd.Add(59*time.Minute)); res != (email.FlushResult{}) {
		t.Fatalf("flush before the next period ended: %+v", res)
	}
	if res := flush(t, in, hourEnd.Add(time.Hour)); res.Sent != 1 {
		t.Fatalf("flush of the next period: %+v, want one mail", res)
	}
	msgs = srv.Messages()
	if len(msgs) != 3 || msgs[2].To[0] != "bob@example.com" || msgs[2].Subject != "1 update on 1 issue" {
		t.Fatalf("mails %d, last subject %q; want the late event alone", len(msgs), msgs[len(msgs)-1].Subject)
	}
}

// Periods follow the recipient's clock: a daily digest ends at the
// recipient's midnight.
func TestDigestPeriodsInRecipientsTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	bob.Location = ny                                 // carol: the digest's default, UTC
	at := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC) // 22:00 on Feb 28 in New York
	clk := newClock(at.Add(30 * time.Minute))
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("daily"), Recipients: fixed(bob, carol), Now: clk.Now,
		Digest: &email.DigestConfig{Period: email.Daily},
	})
	mustDeliver(t, in, eventAt("42", "comment_added", ana, at, nil))

	var ends []time.Time
	if err := testDB.Raw(`SELECT due_at FROM batch_windows WHERE inbox = ? ORDER BY recipient = ? DESC`, in.Name(), bob.ID).Scan(&ends).Error; err != nil {
		t.Fatal(err)
	}
	nyMidnight := time.Date(2026, 3, 1, 0, 0, 0, 0, ny)
	if len(ends) != 2 || !ends[0].Equal(nyMidnight) || !ends[1].Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("period ends %v; want bob's %v and carol's UTC midnight", ends, nyMidnight)
	}
	bobsEnd := time.Date(2026, 3, 1, 0, 0, 0, 0, ny) // 05:00 UTC
	if res := flush(t, in, bobsEnd.Add(-time.Second)); res.Sent != 0 {
		t.Fatalf("flush before New York's midnight: %+v", res)
	}
	if res := flush(t, in, bobsEnd); res.Sent != 1 {
		t.Fatalf("flush at New York's midnight: %+v, want bob's digest", res)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].To[0] != "bob@example.com" {
		t.Fatalf("want only bob's digest, got %d mails", len(msgs))
	}
	if res := flush(t, in, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)); res.Sent != 1 {
		t.Fatalf("flush at UTC midnight: %+v, want carol's digest", res)
	}
}

// A digest refused with a 4xx is retried later as the very same mail:
// events arriving meanwhile go to the next period, not into it. A 5xx is
// final.
func TestDigestRetriesTheSameMail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0)
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("retrying"), Recipients: fixed(bob, carol), Now: clk.Now,
		Digest: &email.DigestConfig{Period: email.Hourly},
		Flush:  email.FlushPolicy{Backoff: func(int) time.Duration { return 10 * time.Minute }},
	})
	for i := range 3 {
		mustDeliver(t, in, eventAt("42", "comment_added", ana, t0.Add(time.Duration(i)*time.Minute), nil))
	}
	srv.FailNext(1, smtptest.Failure{Code: 421, Message: "busy"})
	srv.FailNext(1, smtptest.Failure{Code: 550, Message: "no such user", Stage: smtptest.StageRcpt})
	res := flush(t, in, hourEnd)
	if res.Retrying != 1 || res.Failed != 1 || res.Sent != 0 {
		t.Fatalf("first flush %+v; want one retrying (421) and one failed (550)", res)
	}
	// Sealed: a new event of the same period, processed while its digest
	// waits for the retry, joins the next period's.
	clk.Set(hourEnd.Add(time.Minute))
	mustDeliver(t, in, eventAt("42", "comment_added", ana, t0.Add(5*time.Minute), nil))
	if res := flush(t, in, hourEnd.Add(5*time.Minute)); res != (email.FlushResult{}) {
		t.Fatalf("flush within the backoff: %+v, want nothing", res)
	}
	res = flush(t, in, hourEnd.Add(10*time.Minute))
	if res.Sent != 1 || res.Retrying+res.Failed != 0 {
		t.Fatalf("flush after the backoff: %+v, want the retried digest sent", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Subject != "3 updates on 1 issue" {
		t.Fatalf("%d mails; want the first digest as it was sealed (3 updates), got %q", len(msgs), msgs[0].Subject)
	}
	// The 550 digest is never tried again; the next period holds one event
	// for each of them.
	res = flush(t, in, hourEnd.Add(time.Hour))
	if res.Sent != 2 {
		t.Fatalf("flush of the next period: %+v, want two digests", res)
	}
	if n := srv.Transactions(); n != 5 {
		t.Errorf("%d SMTP transactions, want 5 (421, 550, retry, two next-period digests)", n)
	}
}

// A recipient who muted the mail after events were queued (a digest's
// unsubscribe link) gets no digest.
func TestDigestHonoursMutesAtFlush(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0)
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("muting"), Recipients: fixed(bob), Now: clk.Now,
		Digest: &email.DigestConfig{Period: email.Hourly},
	})
	mustDeliver(t, in, eventAt("42", "comment_added", ana, t0, nil))
	mute(t, bob, inbox.ChannelEmail, inbox.AnyAction)
	if res := flush(t, in, hourEnd); res.Dropped != 1 || res.Sent != 0 {
		t.Fatalf("flush %+v, want the digest dropped", res)
	}
	if n := srv.Transactions(); n != 0 {
		t.Fatalf("%d mails, want none", n)
	}
}

// Processing and flushing race: many events processed twice each by
// concurrent jobs while flushers seal and send the period. Every event is
// listed exactly once across all digests.
func TestDigestNeverListsTwiceOrDrops(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob := person("Ana"), person("Bob")
	tpls := templates(t)
	if err := tpls.Register("issue", "label_added", email.Template{Subject: `label #{{.Event.ID}}.`, Text: `{{.Event.ID}}`}); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("racing"), Recipients: fixed(bob), Now: func() time.Time { return t0 },
		Builder: builder(t, tpls),
		Digest:  &email.DigestConfig{Period: email.Hourly},
	})
	const n = 60
	evs := make([]activity.Event, n)
	for i := range evs {
		evs[i] = eventAt("42", "label_added", ana, t0, nil)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range evs {
				ev := evs[(i*7+w*11)%n]
				d := &inbox.Delivery{Inbox: in.Name(), Event: ev, Attempt: 1, MaxAttempts: 1, DB: testDB, Ledger: inbox.NewLedger(inbox.LedgerConfig{}), Logger: testLogger()}
				if err := in.Process(ctx, d); err != nil {
					errs <- err
				}
			}
		}()
	}
	done := make(chan struct{})
	var flushers sync.WaitGroup
	for range 3 {
		flushers.Add(1)
		go func() {
			defer flushers.Done()
			for {
				if _, err := in.Flush(ctx, hourEnd); err != nil {
					errs <- err
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	flushers.Wait()
	flush(t, in, hourEnd.Add(time.Hour)) // the period after, where late items went
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	listed := map[string]int{}
	re := regexp.MustCompile(`label #(\d+)\.`)
	for _, m := range srv.Messages() {
		for _, g := range re.FindAllStringSubmatch(m.Text, -1) {
			listed[g[1]]++
		}
	}
	var missing, twice []string
	for _, ev := range evs {
		id := fmt.Sprint(ev.ID)
		switch listed[id] {
		case 1:
		case 0:
			missing = append(missing, id)
		default:
			twice = append(twice, id)
		}
	}
	if len(missing) > 0 || len(twice) > 0 || len(listed) != n {
		t.Fatalf("over %d mails: missing %v, listed twice %v, %d listed of %d", len(srv.Messages()), missing, twice, len(listed), n)
	}
	t.Logf("%d events in %d digests", n, len(srv.Messages()))
}

// A digest queued in the old tables before an upgrade is still sent.
func TestDigestDrainsTheOldTables(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0)
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{Name: unique("legacy"), Recipients: fixed(bob), Now: clk.Now, Digest: &email.DigestConfig{Period: email.Hourly}})
	ev := eventAt("42", "comment_added", ana, t0, nil)
	snap, _ := json.Marshal(ev)
	var id int64
	if err := testDB.Raw(`INSERT INTO email_digests (inbox, recipient, period_start, due_at, recipient_email, recipient_name) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		in.Name(), bob.ID, hourStart, hourEnd, bob.Email, bob.Name).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`INSERT INTO email_digest_items (digest_id, domain, event_id, event) VALUES (?, 'issue', ?, ?::jsonb)`, id, ev.ID, string(snap)).Error; err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, in, eventAt("43", "comment_added", ana, t0, nil)) // and one on the new step
	if res := flush(t, in, hourEnd); res.Sent != 2 {
		t.Fatalf("flush: %+v, want the old digest and the new window", res)
	}
	if res := flush(t, in, hourEnd.Add(time.Hour)); res.Sent != 0 {
		t.Fatalf("sent again: %+v", res)
	}
}
