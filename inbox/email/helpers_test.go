package email_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

const wait = 10 * time.Second

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func event(id int64, subject, action, actor string, extra map[string]any) activity.Event {
	raw, _ := json.Marshal(extra)
	if extra == nil {
		raw = []byte("{}")
	}
	return activity.Event{
		ID: id, Domain: "issue", SubjectID: subject, Action: action,
		ActorType: "users", ActorID: "7", ActorLabel: actor,
		Extra: raw, OccurredAt: t0.Add(time.Duration(id) * time.Minute),
	}
}

func templates(t *testing.T) *email.Templates {
	t.Helper()
	tpls := email.NewTemplates(email.TemplatesConfig{})
	err := tpls.Register("issue", "comment_added", email.Template{
		Subject: `{{.Actor.Label}} commented on issue {{.Event.SubjectID}}`,
		Text:    "{{.Actor.Label}} wrote:\n{{.Field \"body\"}}\n{{.URL}}\n",
		HTML:    `<p><b>{{.Actor.Label}}</b> wrote:</p><blockquote>{{.Field "body"}}</blockquote><a href="{{.URL}}">open</a>`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tpls.Register("issue", email.AnyAction, email.DefaultTemplate()); err != nil {
		t.Fatal(err)
	}
	return tpls
}

func builder(t *testing.T, tpls *email.Templates) *email.Builder {
	t.Helper()
	b, err := email.NewBuilder(email.BuilderConfig{
		From:       "Tidings <notify@example.com>",
		Templates:  tpls,
		SubjectURL: func(ev activity.Event) string { return "https://tracker.example.com/issues/" + ev.SubjectID },
		Unsubscribe: func(_ context.Context, to email.Recipient, ev *activity.Event) (string, error) {
			if ev == nil {
				return "https://tracker.example.com/unsubscribe?u=" + to.ID + "&what=digest", nil
			}
			return "https://tracker.example.com/unsubscribe?u=" + to.ID + "&action=" + ev.Action, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sender(t *testing.T, srv *smtptest.Server) *email.Sender {
	t.Helper()
	s, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var bob = email.Recipient{ID: "3", Name: "Bob Builder", Email: "bob@example.com"}
