package tidings_test

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// tidings.NewClient gives an email inbox's escalations the worker's
// breaker of its SMTP server (email.Inbox.UseWorkerBreaker): the inbox
// has one already when the app asks.
func TestNewClientGivesEscalationsTheSinksBreaker(t *testing.T) {
	r := redistest.NewPrivate(t)
	tpls := email.NewTemplates(email.TemplatesConfig{})
	if err := tpls.Register("order", email.AnyAction, email.DefaultTemplate()); err != nil {
		t.Fatal(err)
	}
	b, err := email.NewBuilder(email.BuilderConfig{From: "Shop <shop@example.com>", Templates: tpls,
		SubjectURL: func(ev activity.Event) string { return "https://shop.example.com/orders/" + ev.SubjectID }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := email.NewSender(email.Config{Host: "127.0.0.1", Port: 2525, TLS: email.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	in, err := email.NewInbox(email.InboxConfig{Name: "escalate", Builder: b, Transport: s, DB: db,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) { return nil, nil },
		Escalation: &email.EscalationConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(t, r.Addr())
	cfg.Inboxes = []inbox.Inbox{in}
	c, err := tidings.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if in.UseWorkerBreaker(c.Worker()) {
		t.Error("the escalation inbox had no breaker after NewClient; want its sink's")
	}
}
