package email_test

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

func Example() {
	ctx := context.Background()

	// An in-process SMTP server, as in dev mode.
	srv, err := smtptest.NewServer(smtptest.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	tpls := email.NewTemplates(email.TemplatesConfig{})
	tpls.MustRegister("issue", "comment_added", email.Template{
		Subject: `{{.Actor.Label}} commented on issue {{.Event.SubjectID}}`,
		Text:    "{{.Field \"body\"}}\n\n{{.URL}}\n",
		HTML:    `<p>{{.Field "body"}}</p><p><a href="{{.URL}}">Open issue</a></p>`,
	})
	builder, err := email.NewBuilder(email.BuilderConfig{
		From:       "Tracker <notify@tracker.example.com>",
		Templates:  tpls,
		SubjectURL: func(ev activity.Event) string { return "https://tracker.example.com/issues/" + ev.SubjectID },
		Unsubscribe: func(_ context.Context, to email.Recipient, ev *activity.Event) (string, error) {
			return "https://tracker.example.com/unsubscribe?user=" + to.ID, nil
		},
	})
	if err != nil {
		panic(err)
	}
	sender, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone})
	if err != nil {
		panic(err)
	}

	ev := activity.Event{
		ID: 17, Domain: "issue", SubjectID: "42", Action: "comment_added",
		ActorType: "users", ActorID: "1", ActorLabel: "Ana",
		Extra: []byte(`{"body":"Fixed in #43"}`), OccurredAt: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC),
	}
	msg, err := builder.Build(ctx, ev, email.Recipient{ID: "2", Name: "Bob", Email: "bob@example.com"})
	if err != nil {
		panic(err)
	}
	if err := sender.Send(ctx, msg); err != nil {
		if email.IsPermanent(err) {
			fmt.Println("do not retry:", err)
		}
		panic(err)
	}

	got, err := srv.WaitFor(1, 5*time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(got[0].Subject)
	fmt.Println(got[0].Header.Get("Message-Id"))
	fmt.Println(got[0].Header.Get("References"))
	fmt.Println(got[0].Header.Get("List-Unsubscribe-Post"))
	// Output:
	// Ana commented on issue 42
	// <tidings.issue.17.r5ff860bf1190@tracker.example.com>
	// <issue-42@tracker.example.com>
	// List-Unsubscribe=One-Click
}

// An email inbox as the worker runs it: recipients from the app, minus the
// actor; one mail each; the same event again sends nothing.
func ExampleInbox() {
	ctx := context.Background()
	srv, _ := smtptest.NewServer(smtptest.Config{})
	defer srv.Close()

	tpls := email.NewTemplates(email.TemplatesConfig{})
	tpls.MustRegister("issue", "comment_added", email.Template{
		Subject: `{{.Actor.Label}} commented on issue {{.Event.SubjectID}}`,
		Text:    "{{.Field \"body\"}}\n",
	})
	builder, _ := email.NewBuilder(email.BuilderConfig{From: "Tracker <notify@tracker.example.com>", Templates: tpls})
	sender, _ := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone})

	ana := email.Recipient{ID: person("ana").ID, Name: "Ana", Email: "ana@example.com"}
	bob := email.Recipient{ID: person("bob").ID, Name: "Bob", Email: "bob@example.com"}
	mail, err := email.NewInbox(email.InboxConfig{
		Builder:   builder,
		Transport: sender,
		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]email.Recipient, error) {
			return []email.Recipient{ana, bob}, nil // the issue's watchers
		},
	})
	if err != nil {
		panic(err)
	}

	ev := activity.Event{
		ID: eventSeq.Add(1), Domain: "issue", SubjectID: "42", Action: "comment_added",
		ActorType: "users", ActorID: ana.ID, ActorLabel: "Ana", Extra: []byte(`{"body":"Fixed in #43"}`),
	}
	for range 2 { // a job and its retry
		d := &inbox.Delivery{Inbox: mail.Name(), Event: ev, Attempt: 1, MaxAttempts: 1, DB: testDB, Ledger: inbox.NewLedger(inbox.LedgerConfig{})}
		if err := mail.Process(ctx, d); err != nil {
			panic(err)
		}
	}
	for _, m := range srv.Messages() {
		fmt.Println(m.To[0], "-", m.Subject)
	}
	// Output:
	// bob@example.com - Ana commented on issue 42
}
