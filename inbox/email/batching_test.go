package email_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
)

func germanCatalog(t *testing.T) *locale.Catalog {
	t.Helper()
	c, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][3]string{
		{"en", "issue.comment_added.line", "%[1]s commented on %[2]s"},
		{"de", "issue.comment_added.line", "%[1]s hat %[2]s kommentiert"},
		{"en", "issue.security_alert.line", "Security alert on %[2]s"},
		{"de", "issue.security_alert.line", "Sicherheitswarnung zu %[2]s"},
	} {
		if err := c.Set(m[0], m[1], m[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetPlural("en", locale.DigestSubject, 1, "one", "1 update", "other", "%[1]d updates"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPlural("de", locale.DigestSubject, 1, "one", "1 Neuigkeit", "other", "%[1]d Neuigkeiten"); err != nil {
		t.Fatal(err)
	}
	return c
}

// 30 comments within a window: Ana (German, daily at 08:00 in Berlin) gets
// one German digest listing all 30 at 08:00 her time, across the change to
// summer time; Carol (immediate) gets 30 mails; Dan turned it off and gets
// none, except the critical security alert, at once.
func TestBatchingHonoursEachPersonsChoice(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ana, carol, dan, eve := person("Ana"), person("Carol"), person("Dan"), person("Eve")
	ana.Locale, ana.Location = "de-DE", berlin
	defaults := &inbox.Defaults{Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "security_alert"}}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(defaults.SetChoice(ctx, testDB, ana.ID, inbox.ChannelEmail, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.DailyAt(8, 0))))
	must(defaults.SetChoice(ctx, testDB, dan.ID, inbox.ChannelEmail, "issue", "comment_added", inbox.OffChoice))
	must(inbox.Mute(ctx, testDB, dan.ID, inbox.AnyChannel, "issue", inbox.AnyAction)) // around Defaults: critical still goes

	// Saturday 28 March 2026, 20:00 in Berlin; that night the clocks go forward.
	clk := newClock(time.Date(2026, 3, 28, 20, 0, 0, 0, berlin))
	tpls := templates(t)
	b, err := email.NewBuilder(email.BuilderConfig{From: "Tidings <notify@example.com>", Templates: tpls, Catalog: germanCatalog(t),
		DigestIn: map[string]email.DigestTemplate{"de": {Subject: "{{.Summary}}", Text: "Hallo {{.Recipient.Name}},\n{{range .Subjects}}{{range .Items}}- {{.Line}} ({{.When}})\n{{end}}{{end}}"}}})
	must(err)
	in := newInbox(t, srv, email.InboxConfig{Name: unique("batching"), Builder: b, Recipients: fixed(ana, carol, dan, eve), Now: clk.Now,
		DB: testDB, Defaults: defaults, Batching: &email.BatchingConfig{}})
	if _, err := email.NewInbox(email.InboxConfig{Builder: b, Transport: sender(t, srv), Recipients: fixed(ana), Batching: &email.BatchingConfig{}}); err == nil {
		t.Error("Batching without DB was accepted")
	}
	for range 30 {
		ev := newEvent("42", "comment_added", eve, nil)
		ev.OccurredAt = clk.Now()
		for range 2 { // a retried job
			must(inboxtest.Process(t, testDB, in, ev))
		}
	}
	alert := newEvent("42", "security_alert", eve, nil)
	inboxtest.Conformance(t, testDB, in, alert, "batch_windows", "batch_items")

	// Immediately: Carol's 30 and the alert to Carol, Dan (off, but
	// critical) and Ana (critical kinds are never batched).
	msgs, err := srv.WaitFor(33, wait)
	if err != nil {
		t.Fatal(err)
	}
	to := map[string]int{}
	for _, m := range msgs {
		to[m.To[0]]++
	}
	if to[carol.Email] != 31 || to[dan.Email] != 1 || to[ana.Email] != 1 {
		t.Fatalf("immediate mails per recipient %v, want Carol 31, Dan 1 (the alert), Ana 1 (the alert)", to)
	}

	// 07:59 Berlin summer time: nothing more; 08:00: Ana's one digest.
	due := time.Date(2026, 3, 29, 8, 0, 0, 0, berlin)
	if due.UTC().Hour() != 6 {
		t.Fatalf("08:00 Berlin on 29 March is %v UTC, want 06:00", due.UTC())
	}
	if res := flush(t, in, due.Add(-time.Minute)); res.Sent != 0 {
		t.Fatalf("flushed before 08:00 local: %+v", res)
	}
	if res := flush(t, in, due); res.Sent != 1 {
		t.Fatalf("flush at 08:00 local: %+v", res)
	}
	if res := flush(t, in, due.Add(time.Hour)); res.Sent != 0 {
		t.Fatalf("a second flush sent %+v", res)
	}
	msgs, err = srv.WaitFor(34, wait)
	if err != nil {
		t.Fatal(err)
	}
	digest := msgs[33]
	if digest.To[0] != ana.Email || len(srv.Messages()) != 34 {
		t.Fatalf("last mail to %v, %d mails in all", digest.To, len(srv.Messages()))
	}
	if digest.Subject != "30 Neuigkeiten" {
		t.Errorf("digest subject %q, want German \"30 Neuigkeiten\"", digest.Subject)
	}
	if n := strings.Count(digest.Text, "Eve hat #42 kommentiert (28.03.2026 20:00 CET)"); n != 30 {
		t.Errorf("digest lists %d German items with Berlin times, want 30:\n%s", n, digest.Text)
	}
	if !strings.HasPrefix(digest.Text, "Hallo Ana") {
		t.Errorf("digest text not German:\n%.200s", digest.Text)
	}
}

// An event muted while its window is open leaves the digest; a window
// left empty is dropped, not sent.
func TestBatchingMuteMidWindow(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	bo := person("Bo")
	eve := person("Eve")
	defaults := &inbox.Defaults{Delivery: []inbox.KindChoice{{Kind: inbox.Kind{Channel: inbox.ChannelEmail, Domain: "issue", Action: inbox.AnyAction}, Choice: inbox.BatchedOn(inbox.EveryHour())}}}
	clk := newClock(t0)
	in := newInbox(t, srv, email.InboxConfig{Name: unique("batchmute"), Recipients: fixed(bo), Now: clk.Now, DB: testDB, Defaults: defaults,
		Batching: &email.BatchingConfig{MaxItems: 4}})
	var evs []activity.Event
	for i := range 6 {
		ev := newEvent([]string{"42", "43"}[i%2], "comment_added", eve, nil)
		evs = append(evs, ev)
		if err := inboxtest.Process(t, testDB, in, ev); err != nil {
			t.Fatal(err)
		}
	}
	// The 4th item filled the first window (cap 4): it goes now, early.
	if res := flush(t, in, clk.Now()); res.Sent != 1 {
		t.Fatalf("full window: %+v", res)
	}
	// Bo mutes issue 43 while the second window (items 5 and 6) is open.
	if err := defaults.Set(ctx, testDB, inbox.Preference{Recipient: bo.ID, Channel: inbox.ChannelEmail, Domain: "issue", Action: inbox.SubjectAction("43"), Muted: true}); err != nil {
		t.Fatal(err)
	}
	if res := flush(t, in, t0.Add(time.Hour)); res.Sent != 1 {
		t.Fatalf("second window: %+v", res)
	}
	msgs, err := srv.WaitFor(2, wait)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(msgs[0].Text, "\n  - "); n != 4 {
		t.Errorf("first digest lists %d, want 4:\n%s", n, msgs[0].Text)
	}
	if n := strings.Count(msgs[1].Text, "\n  - "); n != 1 || strings.Contains(msgs[1].Text, "issue 43") {
		t.Errorf("second digest should list only issue 42's one comment:\n%s", msgs[1].Text)
	}
}

// The email inbox in its default mode passes the shared conformance checks.
func TestConformance(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	bo, eve := person("Bo"), person("Eve")
	in := newInbox(t, srv, email.InboxConfig{Name: unique("conf"), Recipients: fixed(bo)})
	inboxtest.Conformance(t, testDB, in, newEvent("42", "comment_added", eve, nil))
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d mails for one event retried, want 1", n)
	}
}
