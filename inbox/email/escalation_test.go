package email_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// An escalation mails only who has not read the in-app notification when
// the delay is over: read within the delay, no mail; unread, one mail.
func TestEscalationMailsOnlyUnread(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0)
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")

	app, err := notify.New(notify.Config{
		Name: unique("notify"),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
			return []string{bob.ID, carol.ID}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("escalate"), Recipients: fixed(ana, bob, carol), Now: clk.Now,
		Escalation: &email.EscalationConfig{Delay: 10 * time.Minute},
	})
	ev := newEvent("42", "comment_added", ana, map[string]any{"body": "please look"})
	mustDeliver(t, app, ev)
	mustDeliver(t, in, ev)
	mustDeliver(t, in, ev) // processed again: still one escalation each

	// Carol reads hers within the delay.
	page, err := notify.List(ctx, testDB, notify.Query{Recipient: carol.ID})
	if err != nil || len(page.Notifications) != 1 {
		t.Fatalf("carol's notifications: %+v, %v", page, err)
	}
	if ok, err := notify.MarkRead(ctx, testDB, carol.ID, page.Notifications[0].ID); err != nil || !ok {
		t.Fatalf("MarkRead: %v, %v", ok, err)
	}

	if res := flush(t, in, t0.Add(10*time.Minute-time.Second)); res != (email.FlushResult{}) {
		t.Fatalf("flush within the delay: %+v, want nothing", res)
	}
	if res := flush(t, in, t0.Add(10*time.Minute)); res.Sent != 1 || res.Dropped != 1 {
		t.Fatalf("flush after the delay: %+v, want bob mailed and carol's dropped", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "bob@example.com" {
		t.Fatalf("mailed %v, want only bob", envelopeTo(msgs))
	}
	if msgs[0].Subject != "Ana commented on issue 42" || msgs[0].Header.Get("Message-Id") != "<"+email.MessageID("example.com", ev.Ref(), "bob@example.com")+">" {
		t.Errorf("escalation mail %q %q: want the event's usual mail", msgs[0].Subject, msgs[0].Header.Get("Message-Id"))
	}
	if res := flush(t, in, t0.Add(time.Hour)); res != (email.FlushResult{}) {
		t.Fatalf("flush again: %+v, want nothing", res)
	}
	// Both rows are finished (sent, dropped): PruneAllTenants removes them.
	if n, err := in.PruneAllTenants(ctx, t0.Add(2*time.Hour)); err != nil || n != 2 {
		t.Fatalf("PruneAllTenants = %d, %v; want 2", n, err)
	}
}

// A recipient without an in-app notification (muted in-app, or no in-app
// inbox) has not read it: the mail goes out.
func TestEscalationWithoutNotificationIsUnread(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0)
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("escalate"), Recipients: fixed(bob), Now: clk.Now,
		Escalation: &email.EscalationConfig{},
	})
	mustDeliver(t, in, newEvent("42", "comment_added", ana, nil))
	if res := flush(t, in, t0.Add(9*time.Minute)); res.Sent != 0 {
		t.Fatalf("flush before the default 10 minutes: %+v", res)
	}
	if res := flush(t, in, t0.Add(10*time.Minute)); res.Sent != 1 {
		t.Fatalf("flush after: %+v, want one mail", res)
	}
}

// A refused escalation is retried by a later flush, a 5xx is final.
func TestEscalationRetries(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	clk := newClock(t0)
	ana, bob, carol := person("Ana"), person("Bob"), person("Carol")
	in := newInbox(t, srv, email.InboxConfig{
		Name: unique("escalate"), Recipients: fixed(bob, carol), Now: clk.Now,
		Escalation: &email.EscalationConfig{Delay: time.Minute},
		Flush:      email.FlushPolicy{Backoff: func(int) time.Duration { return time.Minute }},
	})
	mustDeliver(t, in, newEvent("42", "comment_added", ana, nil))
	srv.FailNext(1, smtptest.Failure{Code: 451, Message: "later"})
	srv.FailNext(1, smtptest.Failure{Code: 550, Message: "no such user", Stage: smtptest.StageRcpt})
	if res := flush(t, in, t0.Add(time.Minute)); res.Retrying != 1 || res.Failed != 1 {
		t.Fatalf("first flush %+v; want one retrying, one failed", res)
	}
	if res := flush(t, in, t0.Add(90*time.Second)); res != (email.FlushResult{}) {
		t.Fatalf("flush within the backoff: %+v", res)
	}
	if res := flush(t, in, t0.Add(2*time.Minute)); res.Sent != 1 || res.Failed != 0 {
		t.Fatalf("flush after the backoff: %+v, want the retried mail only", res)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || srv.Transactions() != 3 {
		t.Fatalf("%d mails in %d transactions, want 1 in 3", len(msgs), srv.Transactions())
	}
}
