package email_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox/email"
)

func TestRegisterRejectsUnknownField(t *testing.T) {
	tpls := email.NewTemplates(email.TemplatesConfig{})
	err := tpls.Register("issue", "comment_added", email.Template{Subject: `{{.Actr.Label}} commented`, Text: "x"})
	var te *email.TemplateError
	if !errors.As(err, &te) {
		t.Fatalf("Register error %v is not a *TemplateError", err)
	}
	if te.Domain != "issue" || te.Action != "comment_added" || te.Part != "subject" {
		t.Errorf("error names %s/%s %s, want issue/comment_added subject", te.Domain, te.Action, te.Part)
	}
	for _, want := range []string{"Actr", ".Actor", ".Field"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if tpls.Has("issue", "comment_added") {
		t.Error("a rejected template was registered")
	}
}

func TestRegisterChecksEveryPart(t *testing.T) {
	cases := map[string]struct {
		tpl  email.Template
		part string
	}{
		"html syntax":      {email.Template{Subject: "s", Text: "t", HTML: "<p>{{.Actor.Label</p>"}, "html"},
		"unknown function": {email.Template{Subject: "s", Text: "{{shout .Actor.Label}}"}, "text"},
		"field in branch":  {email.Template{Subject: "s", Text: "{{with .Record}}{{.Lable}}{{end}}"}, "text"},
		"empty subject":    {email.Template{Subject: " ", Text: "t"}, "subject"},
		"empty text":       {email.Template{Subject: "s"}, "text"},
	}
	for name, c := range cases {
		err := email.NewTemplates(email.TemplatesConfig{}).Register("issue", "closed", c.tpl)
		var te *email.TemplateError
		if !errors.As(err, &te) || te.Part != c.part {
			t.Errorf("%s: error %v, want a TemplateError on part %q", name, err, c.part)
		}
	}
}

func TestRenderFallsBackToAnyActionThenFails(t *testing.T) {
	tpls := email.NewTemplates(email.TemplatesConfig{Funcs: map[string]any{"upper": strings.ToUpper}})
	if err := tpls.Register("issue", email.AnyAction, email.Template{Subject: `{{upper (humanize .Event.Action)}}`, Text: "t"}); err != nil {
		t.Fatal(err)
	}
	ev := event(1, "42", "status_changed", "Ana", nil)
	r, err := tpls.Render("issue", "status_changed", email.Data{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "STATUS CHANGED" {
		t.Errorf("subject %q", r.Subject)
	}
	_, err = tpls.Render("invoice", "paid", email.Data{})
	if !errors.Is(err, email.ErrNoTemplate) || !strings.Contains(err.Error(), "invoice/paid") || !strings.Contains(err.Error(), "issue/*") {
		t.Errorf("missing template error %v should match ErrNoTemplate and name the key and the registered ones", err)
	}
}

func TestSubjectIsOneLine(t *testing.T) {
	tpls := email.NewTemplates(email.TemplatesConfig{})
	tpls.MustRegister("issue", "closed", email.Template{Subject: "{{.Actor.Label}}\n closed\t{{.Field \"why\"}}", Text: "t"})
	ev := event(1, "42", "closed", "Ana\r\n", map[string]any{"why": "done\x00\r\nBcc: x"})
	r, err := tpls.Render("issue", "closed", email.Data{Event: ev, Actor: ev.Actor(), Extra: ev.ExtraMap()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Ana closed done Bcc: x" {
		t.Errorf("subject %q, want the line breaks and controls folded into single spaces", r.Subject)
	}
	long := strings.Repeat("é", 500)
	r, _ = tpls.Render("issue", "closed", email.Data{Actor: ev.Actor(), Extra: map[string]any{"why": long}})
	if n := len([]rune(r.Subject)); n != 200 || !strings.HasSuffix(r.Subject, "…") {
		t.Errorf("long subject kept %d runes (%q...), want 200 ending in …", n, r.Subject[:20])
	}
}

func TestFieldReadsExtra(t *testing.T) {
	d := email.Data{Extra: map[string]any{"n": 3.0, "s": "x", "nil": nil}}
	if d.Field("n") != "3" || d.Field("s") != "x" || d.Field("nil") != "" || d.Field("missing") != "" {
		t.Errorf("Field gave %q %q %q %q", d.Field("n"), d.Field("s"), d.Field("nil"), d.Field("missing"))
	}
}
