package email_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/email"
)

func TestMessageIDIsDeterministicPerEventAndRecipient(t *testing.T) {
	ctx := context.Background()
	b := builder(t, templates(t))
	ev := event(30, "42", "comment_added", "Ana", nil)
	m1, err := b.Build(ctx, ev, bob)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := b.Build(ctx, ev, email.Recipient{ID: "3", Name: "Bob", Email: "bob@example.com"})
	if m1.MessageID != m2.MessageID {
		t.Errorf("same event and recipient gave %q and %q", m1.MessageID, m2.MessageID)
	}
	other, _ := b.Build(ctx, ev, email.Recipient{ID: "5", Email: "carol@example.com"})
	next, _ := b.Build(ctx, event(31, "42", "comment_added", "Ana", nil), bob)
	elsewhere, _ := b.Build(ctx, event(32, "43", "comment_added", "Ana", nil), bob)
	if other.MessageID == m1.MessageID || next.MessageID == m1.MessageID {
		t.Errorf("different recipient or event reused Message-ID %q", m1.MessageID)
	}
	if next.InReplyTo != m1.InReplyTo || next.InReplyTo != "issue-42@example.com" {
		t.Errorf("same subject threads on %q and %q, want issue-42@example.com", m1.InReplyTo, next.InReplyTo)
	}
	if elsewhere.InReplyTo == m1.InReplyTo {
		t.Errorf("different subjects share thread %q", m1.InReplyTo)
	}
	odd := email.ThreadID("example.com", "issue", "a b<c>@d")
	if odd == "" || len(odd) > 100 || containsAny(odd, " <>") {
		t.Errorf("thread id %q for an odd subject key is not a safe msg-id", odd)
	}
}

func containsAny(s, chars string) bool {
	for _, c := range chars {
		for _, d := range s {
			if c == d {
				return true
			}
		}
	}
	return false
}

func TestBuildRejectsBadRecipient(t *testing.T) {
	b := builder(t, templates(t))
	for _, addr := range []string{"", "bob", "bob@example.com, eve@example.com", "Bob <bob@example.com>", "bob@example.com\r\nBcc: x@y.z"} {
		_, err := b.Build(context.Background(), event(1, "42", "comment_added", "Ana", nil), email.Recipient{Email: addr})
		if !errors.Is(err, email.ErrInvalidRecipient) {
			t.Errorf("recipient %q: error %v, want ErrInvalidRecipient", addr, err)
		}
	}
}

func TestUnsubscribeURLMustBeHTTPS(t *testing.T) {
	cases := map[string]bool{
		"https://tracker.example.com/u/1":  true,
		"http://localhost:8080/u/1":        true,
		"http://127.0.0.1/u/1":             true,
		"http://tracker.example.com/u/1":   false,
		"mailto:unsubscribe@example.com":   false,
		"/relative":                        false,
		"https://x.example.com/u>\r\nBcc:": false,
	}
	for url, ok := range cases {
		b, err := email.NewBuilder(email.BuilderConfig{
			From: "notify@example.com", Templates: templates(t),
			Unsubscribe: func(context.Context, email.Recipient, *activity.Event) (string, error) { return url, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := b.Build(context.Background(), event(1, "42", "comment_added", "Ana", nil), bob)
		if ok && (err != nil || m.UnsubscribeURL != url) {
			t.Errorf("%q: rejected (%v)", url, err)
		}
		if !ok && !errors.Is(err, email.ErrInvalidConfig) {
			t.Errorf("%q: error %v, want ErrInvalidConfig", url, err)
		}
	}
}

func TestNewBuilderRejectsBadConfig(t *testing.T) {
	tpls := templates(t)
	for name, cfg := range map[string]email.BuilderConfig{
		"no templates": {From: "notify@example.com"},
		"bad from":     {From: "not an address", Templates: tpls},
		"crlf in from": {From: "A\r\nBcc: x@y.z <notify@example.com>", Templates: tpls},
		"bad host":     {From: "notify@example.com", Host: "a b", Templates: tpls},
		"bad digest":   {From: "notify@example.com", Templates: tpls, Digest: &email.DigestTemplate{Subject: "{{.Cont}}", Text: "x"}},
	} {
		if _, err := email.NewBuilder(cfg); err == nil {
			t.Errorf("%s: NewBuilder accepted it", name)
		}
	}
}
