package email_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
)

// person returns a recipient whose ID no other test uses, since
// preferences and ledger rows outlive a test.
func person(name string) email.Recipient {
	return email.Recipient{ID: fmt.Sprintf("%s-%d", strings.ToLower(name), eventSeq.Add(1)), Name: name, Email: strings.ToLower(name) + "@example.com"}
}

// newEvent makes up an issue event with an ID no other test uses, done by
// actor.
func newEvent(subject, action string, actor email.Recipient, extra map[string]any) activity.Event {
	ev := event(eventSeq.Add(1), subject, action, actor.Name, extra)
	ev.ActorID = actor.ID
	ev.OccurredAt = t0
	return ev
}

// fixed returns a RecipientsFunc answering rs for every event.
func fixed(rs ...email.Recipient) email.RecipientsFunc {
	return func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) { return rs, nil }
}

func newInbox(t *testing.T, srv *smtptest.Server, cfg email.InboxConfig) *email.Inbox {
	t.Helper()
	// A 550 puts its address on the suppression list; tests share addresses.
	t.Cleanup(func() { testDB.Exec(`TRUNCATE inbox_suppressions`) })
	if cfg.Builder == nil {
		cfg.Builder = builder(t, templates(t))
	}
	if cfg.Transport == nil {
		cfg.Transport = sender(t, srv)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if (cfg.Digest != nil || cfg.Escalation != nil) && cfg.DB == nil {
		cfg.DB = testDB
	}
	in, err := email.NewInbox(cfg)
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

func mute(t *testing.T, r email.Recipient, channel, action string) {
	t.Helper()
	if err := inbox.Mute(context.Background(), testDB, r.ID, channel, "issue", action); err != nil {
		t.Fatal(err)
	}
}

func envelopeTo(msgs []smtptest.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.To...)
	}
	slices.Sort(out)
	return out
}

// The right people get the mail: not the actor, not twice, not who muted
// the action, the domain, the subject or the email channel; someone who
// muted only the in-app channel still gets it.
func TestInboxMailsTheRightRecipients(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	dave, erin, frank, gina, hank := person("Dave"), person("Erin"), person("Frank"), person("Gina"), person("Hank")
	bobAgain := email.Recipient{ID: person("Other").ID, Name: "Bob again", Email: "BOB@example.com"}
	noID := email.Recipient{Name: "Nobody", Email: "nobody@example.com"}
	badAddress := email.Recipient{ID: person("Ivan").ID, Name: "Ivan", Email: "ivan@example.com, eve@attacker.test"}
	mute(t, dave, inbox.ChannelEmail, "comment_added")
	mute(t, erin, inbox.ChannelEmail, inbox.AnyAction)
	mute(t, frank, inbox.ChannelEmail, email.SubjectAction("42"))
	mute(t, gina, inbox.ChannelApp, "comment_added") // in-app only: still mailed
	mute(t, hank, inbox.AnyChannel, "comment_added")

	in := newInbox(t, srv, email.InboxConfig{
		Recipients: fixed(ana, bob, carol, bob, bobAgain, noID, badAddress, dave, erin, frank, gina, hank),
	})
	ev := newEvent("42", "comment_added", ana, map[string]any{"body": "Fixed in #43"})

	got, err := in.Recipients(context.Background(), testDB, ev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if want := []string{bob.ID, carol.ID, gina.ID}; !slices.Equal(ids, want) {
		t.Fatalf("Recipients = %v, want %v", ids, want)
	}

	mustDeliver(t, in, ev)
	msgs, err := srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	if to := envelopeTo(msgs); !slices.Equal(to, []string{"bob@example.com", "carol@example.com", "gina@example.com"}) {
		t.Fatalf("mailed %v, want bob, carol and gina", to)
	}
	if n := srv.Transactions(); n != 3 {
		t.Errorf("%d SMTP transactions, want 3", n)
	}
	for _, m := range msgs {
		if m.Subject != "Ana commented on issue 42" {
			t.Errorf("subject %q", m.Subject)
		}
		if !strings.Contains(m.Text, "Ana wrote:") || !strings.Contains(m.Text, "Fixed in #43") {
			t.Errorf("text %q", m.Text)
		}
		if !strings.Contains(m.HTML, "<blockquote>Fixed in #43</blockquote>") {
			t.Errorf("html %q", m.HTML)
		}
		if want := "<" + email.MessageID("example.com", ev.Ref(), m.To[0]) + ">"; m.Header.Get("Message-Id") != want {
			t.Errorf("Message-Id %q, want %q", m.Header.Get("Message-Id"), want)
		}
	}
	ledger := inbox.NewLedger(inbox.LedgerConfig{})
	e, ok, err := ledger.Lookup(context.Background(), testDB, inbox.Key{Inbox: "email", Event: ev.Ref(), Recipient: bob.ID})
	if err != nil || !ok || e.Status != inbox.StatusSent {
		t.Errorf("ledger row for bob: %+v, %v, %v; want sent", e, ok, err)
	}
}

// A system actor is not a recipient even if some user has its ID.
func TestInboxActorIsMatchedByType(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	bob := person("Bob")
	in := newInbox(t, srv, email.InboxConfig{Recipients: fixed(bob)})
	ev := newEvent("42", "comment_added", bob, nil)
	ev.ActorType = activity.SystemActorType // "system:bob-N" is not user bob-N
	mustDeliver(t, in, ev)
	if _, err := srv.WaitFor(1, wait); err != nil {
		t.Fatal(err)
	}
}

// Processing the same event again (a retried or re-enqueued job, a
// re-driven dead letter) sends nothing new.
func TestInboxSameEventTwiceSendsNothingNew(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	in := newInbox(t, srv, email.InboxConfig{Recipients: fixed(bob, carol)})
	ev := newEvent("42", "comment_added", ana, map[string]any{"body": "once"})
	mustDeliver(t, in, ev)
	if _, err := srv.WaitFor(2, wait); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, in, ev)
	mustDeliver(t, in, ev)
	if n := srv.Transactions(); n != 2 {
		t.Fatalf("%d SMTP transactions after processing the event three times, want 2", n)
	}
	// A new event is mailed: the ledger is per event.
	mustDeliver(t, in, newEvent("42", "comment_added", ana, nil))
	if _, err := srv.WaitFor(4, wait); err != nil {
		t.Fatal(err)
	}
}

// A retry after a partial failure mails only who was not mailed yet.
func TestInboxRetryMailsOnlyTheRest(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	in := newInbox(t, srv, email.InboxConfig{Recipients: fixed(bob, carol)})
	ev := newEvent("42", "comment_added", ana, nil)
	srv.FailNext(1, smtptest.Failure{Code: 451, Message: "try again later"})
	err := deliver(t, in, ev)
	if err == nil || inbox.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Fatalf("first attempt: %v; want a temporary error naming the 451", err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].To[0] != "carol@example.com" {
		t.Fatalf("first attempt mailed %v, want carol (bob was refused)", msgs[0].To)
	}
	mustDeliver(t, in, ev)
	msgs, err = srv.WaitFor(2, wait)
	if err != nil {
		t.Fatal(err)
	}
	if to := envelopeTo(msgs); !slices.Equal(to, []string{"bob@example.com", "carol@example.com"}) || srv.Transactions() != 3 {
		t.Fatalf("after the retry: mailed %v in %d transactions; want bob and carol once each, 3 transactions", to, srv.Transactions())
	}
}

// A 5xx for every recipient is permanent; mixed with a temporary failure
// the job is retried, without the permanent error making it final.
func TestInboxPermanentOnlyWhenEveryFailureIs(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")

	// A 550 refuses the recipient for good: recorded in the ledger as
	// refused and suppressed; the job itself is done.
	in := newInbox(t, srv, email.InboxConfig{Recipients: fixed(bob)})
	srv.FailNext(1, smtptest.Failure{Code: 550, Message: "no such user", Stage: smtptest.StageRcpt})
	ev := newEvent("42", "comment_added", ana, nil)
	if err := deliver(t, in, ev); err != nil {
		t.Fatalf("550 gave %v; want the refusal recorded and the job done", err)
	}
	e, ok, err := inbox.NewLedger(inbox.LedgerConfig{}).Lookup(context.Background(), testDB, inbox.Key{Inbox: in.Name(), Event: ev.Ref(), Recipient: bob.ID})
	if err != nil || !ok || e.Status != inbox.StatusRefused || !strings.Contains(e.LastError, "550") {
		t.Fatalf("ledger %+v %v %v; want bob refused with the 550", e, ok, err)
	}
	testDB.Exec(`TRUNCATE inbox_suppressions`)

	in2 := newInbox(t, srv, email.InboxConfig{Name: "email2", Recipients: fixed(bob, carol)})
	srv.FailNext(1, smtptest.Failure{Code: 550, Message: "no such user", Stage: smtptest.StageRcpt})
	srv.FailNext(1, smtptest.Failure{Code: 421, Message: "busy"})
	err = deliver(t, in2, newEvent("42", "comment_added", ana, nil))
	if err == nil || inbox.IsPermanent(err) || !strings.Contains(err.Error(), "421") {
		t.Fatalf("550 and 421 gave %v; want a temporary error naming the 421", err)
	}
}

// A label holding CR/LF and <script> arrives encoded: no extra header, no
// extra recipient, no live markup.
func TestInboxEscapesLabels(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	bob := person("Bob")
	evil := person("Evil")
	evil.Name = "Ana\r\nBcc: victim@attacker.test\r\nX-Evil: 1\n<script>alert(1)</script>"
	in := newInbox(t, srv, email.InboxConfig{Recipients: fixed(bob)})
	ev := newEvent("42", "comment_added", evil, map[string]any{"body": "<img src=x onerror=alert(2)>"})
	mustDeliver(t, in, ev)
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.ParseError != nil {
		t.Fatal(m.ParseError)
	}
	if len(m.To) != 1 || m.To[0] != "bob@example.com" {
		t.Errorf("envelope recipients %v, want only bob", m.To)
	}
	for _, l := range m.HeaderLines() {
		low := strings.ToLower(l)
		if strings.HasPrefix(low, "bcc:") || strings.HasPrefix(low, "x-evil:") {
			t.Errorf("injected header line %q", l)
		}
	}
	if want := "Ana Bcc: victim@attacker.test X-Evil: 1 <script>alert(1)</script> commented on issue 42"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<img") {
		t.Errorf("live markup in the HTML body: %s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(m.HTML, "&lt;img src=x onerror=alert(2)&gt;") {
		t.Errorf("the HTML body does not show the label and comment as text: %s", m.HTML)
	}
}

func TestNewInboxChecksConfig(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	b, s := builder(t, templates(t)), sender(t, srv)
	for name, cfg := range map[string]email.InboxConfig{
		"no builder":    {Transport: s, Recipients: fixed()},
		"no transport":  {Builder: b, Recipients: fixed()},
		"no recipients": {Builder: b, Transport: s},
		"two modes":     {Builder: b, Transport: s, Recipients: fixed(), DB: testDB, Digest: &email.DigestConfig{}, Escalation: &email.EscalationConfig{}},
		"digest no db":  {Builder: b, Transport: s, Recipients: fixed(), Digest: &email.DigestConfig{}},
		"bad period":    {Builder: b, Transport: s, Recipients: fixed(), DB: testDB, Digest: &email.DigestConfig{Period: 7}},
	} {
		if _, err := email.NewInbox(cfg); !errorsIsConfig(err) {
			t.Errorf("%s: %v, want an inbox.ErrInvalidConfig", name, err)
		}
	}
	in, err := email.NewInbox(email.InboxConfig{Builder: b, Transport: s, Recipients: fixed()})
	if err != nil {
		t.Fatal(err)
	}
	if in.Name() != "email" || in.Policy().Queue != email.DefaultQueue {
		t.Errorf("defaults: name %q queue %q", in.Name(), in.Policy().Queue)
	}
	// Accepts defaults to the registered templates: issue has AnyAction.
	if !in.Accepts("issue", "anything") || in.Accepts("invoice", "paid") {
		t.Errorf("Accepts does not follow the templates")
	}
}

func errorsIsConfig(err error) bool { return errors.Is(err, inbox.ErrInvalidConfig) }

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
