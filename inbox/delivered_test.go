package inbox_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Corrections list the effects already applied for the retracted events;
// failed attempts are not listed.
func TestDelivered(t *testing.T) {
	reset(t)
	ctx := context.Background()
	_, issueID := newIssue(t)
	a := record(t, testDB, issueID, "comment_added")
	b := record(t, testDB, issueID, "comment_added")
	l := inbox.NewLedger(inbox.LedgerConfig{})
	if _, err := l.Send(ctx, testDB, inbox.Key{Inbox: "mailer", Event: a.Ref(), Recipient: "users:2"}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Once(ctx, testDB, inbox.Key{Inbox: "notify", Event: a.Ref(), Recipient: "users:2"}, func(*gorm.DB) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, _ = l.Send(ctx, testDB, inbox.Key{Inbox: "slack", Event: b.Ref()}, func(context.Context) error { return errors.New("down") })
	got, err := inbox.Delivered(ctx, testDB, []activity.EventRef{a.Ref(), b.Ref()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Inbox != "mailer" || got[0].Status != inbox.StatusSent || got[1].Inbox != "notify" || got[1].Status != inbox.StatusDone {
		t.Fatalf("delivered: %+v", got)
	}
}
