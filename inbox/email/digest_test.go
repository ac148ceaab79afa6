package email_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

func TestDigestListsFiveEventsInOneMail(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	b := builder(t, templates(t))
	events := []activity.Event{
		event(44, "43", "comment_added", "Ana", nil),
		event(41, "42", "comment_added", "Ana", nil),
		event(42, "42", "status_changed", "Carol", nil),
		event(43, "43", "comment_added", "Dan", nil),
		event(45, "42", "comment_added", "Erin", nil),
		event(41, "42", "comment_added", "Ana", nil), // the same event twice
	}
	m, err := b.BuildDigest(ctx, bob, events)
	if err != nil {
		t.Fatal(err)
	}
	if err := sender(t, srv).Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.Subject != "5 updates on 2 issues" {
		t.Errorf("subject %q, want \"5 updates on 2 issues\"", got.Subject)
	}
	lines := []string{
		"Ana commented on issue 42",
		"Carol: status changed on issue 42",
		"Erin commented on issue 42",
		"Dan commented on issue 43",
		"Ana commented on issue 43",
	}
	text := got.Text
	last := -1
	for _, l := range lines {
		i := strings.Index(text, "- "+l)
		if i < 0 {
			t.Errorf("text lacks %q:\n%s", l, text)
			continue
		}
		if i < last {
			t.Errorf("%q is out of order:\n%s", l, text)
		}
		last = i
		if strings.Count(text, l) != 1 {
			t.Errorf("%q listed %d times", l, strings.Count(text, l))
		}
		if !strings.Contains(got.HTML, "<li>"+l+"</li>") {
			t.Errorf("html lacks %q:\n%s", l, got.HTML)
		}
	}
	if strings.Count(text, "\n  - ") != 5 {
		t.Errorf("text lists %d items, want 5:\n%s", strings.Count(text, "\n  - "), text)
	}
	if got.Header.Get("List-Unsubscribe") != "<https://tracker.example.com/unsubscribe?u=3&what=digest>" {
		t.Errorf("List-Unsubscribe %q", got.Header.Get("List-Unsubscribe"))
	}
	if got.Header.Get("In-Reply-To") != "" {
		t.Errorf("a digest spans subjects and must not thread, In-Reply-To %q", got.Header.Get("In-Reply-To"))
	}

	// The same set in another order is the same mail.
	again, err := b.BuildDigest(ctx, bob, []activity.Event{events[4], events[3], events[2], events[1], events[0]})
	if err != nil {
		t.Fatal(err)
	}
	if again.MessageID != m.MessageID || again.Text != m.Text {
		t.Errorf("reordered digest differs: %q vs %q", again.MessageID, m.MessageID)
	}
	fewer, _ := b.BuildDigest(ctx, bob, events[:4])
	if fewer.MessageID == m.MessageID {
		t.Error("a digest of other events reused the Message-ID")
	}
}

func TestDigestSummary(t *testing.T) {
	b := builder(t, templates(t))
	ctx := context.Background()
	one, err := b.BuildDigest(ctx, bob, []activity.Event{event(1, "42", "comment_added", "Ana", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if one.Subject != "1 update on 1 issue" {
		t.Errorf("subject %q", one.Subject)
	}
	inv := event(9, "7", "paid", "Ana", nil)
	inv.Domain = "invoice"
	tpls := templates(t)
	tpls.MustRegister("invoice", email.AnyAction, email.DefaultTemplate())
	b2, _ := email.NewBuilder(email.BuilderConfig{From: "notify@example.com", Templates: tpls})
	mixed, err := b2.BuildDigest(ctx, bob, []activity.Event{event(1, "42", "comment_added", "Ana", nil), event(2, "43", "closed", "Ana", nil), inv})
	if err != nil {
		t.Fatal(err)
	}
	if mixed.Subject != "3 updates on 2 issues and 1 invoice" {
		t.Errorf("subject %q", mixed.Subject)
	}
	if _, err := b.BuildDigest(ctx, bob, nil); err == nil {
		t.Error("an empty digest was built")
	}
}
