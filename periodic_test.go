package tidings_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// An email inbox's escalations go out through the entry point alone: the
// client schedules the inbox's periodic flush (inbox.Periodic) on the
// worker's queue and the real worker runs it within its first tick. No
// app code calls Flush or RunFlush.
func TestEscalationSentByTheClientsSchedule(t *testing.T) {
	r := redistest.NewPrivate(t)
	srv := smtptest.Start(t, smtptest.Config{})
	tpls := email.NewTemplates(email.TemplatesConfig{})
	if err := tpls.Register("order", email.AnyAction, email.DefaultTemplate()); err != nil {
		t.Fatal(err)
	}
	b, err := email.NewBuilder(email.BuilderConfig{From: "Shop <shop@example.com>", Templates: tpls,
		SubjectURL: func(ev activity.Event) string { return "https://shop.example.com/orders/" + ev.SubjectID }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	mail, err := email.NewInbox(email.InboxConfig{Name: "escalate-scheduled", Builder: b, Transport: s, DB: db,
		Accepts: inbox.On("order", "placed"),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) {
			return []email.Recipient{{ID: "escalated-reader", Name: "Eve", Email: "eve@example.com"}}, nil
		},
		Escalation: &email.EscalationConfig{Delay: time.Millisecond}, // due as soon as queued
		Flush:      email.FlushPolicy{Every: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(t, r.Addr())
	cfg.Inboxes = []inbox.Inbox{mail}
	c, err := tidings.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)

	var shop, order int64
	db.Raw(`INSERT INTO shops (name) VALUES ('Escalations') RETURNING id`).Scan(&shop)
	db.Raw(`INSERT INTO orders (shop_id, owner_id) VALUES (?, 1) RETURNING id`, shop).Scan(&order)
	tctx := activity.WithTenant(ctx, shop)
	if err := db.WithContext(tctx).Transaction(func(tx *gorm.DB) error {
		_, err := orders.RecordEvent(tctx, tx, order, "placed", activity.Actor(activity.System("system")))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, 15*time.Second)
	if err != nil {
		t.Fatalf("the escalation was not mailed within 15s (the inbox's flush ticks every 1s): %v; is its periodic task scheduled and served?", err)
	}
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "eve@example.com" {
		t.Fatalf("mailed %+v, want one mail to eve@example.com", msgs)
	}
}

// An inbox whose periodic task has no interval is a ConfigError naming
// the inbox's field.
func TestPeriodicInboxWithoutIntervalIsAConfigError(t *testing.T) {
	r := redistest.NewPrivate(t)
	cfg := config(t, r.Addr())
	cfg.Inboxes = []inbox.Inbox{batching(t), periodicInbox{Inbox: inbox.Func("ticks", inbox.On("nothing"), func(context.Context, *inbox.Delivery) error { return nil })}}
	_, err := tidings.NewClient(cfg)
	var ce *tidings.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Inboxes[1]" {
		t.Fatalf("NewClient = %v, want a ConfigError of Inboxes[1]", err)
	}
}

type periodicInbox struct{ inbox.Inbox }

func (periodicInbox) Periodic() (inbox.PeriodicTask, bool) {
	return inbox.PeriodicTask{Run: func(context.Context) error { return nil }}, true
}
