package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"

	"github.com/tidingsdev/tidings/activity"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
)

func TestEscape(t *testing.T) {
	got := slackinbox.Escape("<!channel> & <@U123> <!here> &amp;")
	want := "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;!here&gt; &amp;amp;"
	if got != want {
		t.Errorf("Escape = %q, want %q", got, want)
	}
}

func TestSentence(t *testing.T) {
	cases := map[string]string{
		"comment_added":  "Ana added a comment on issue 42",
		"attachment_set": "Ana set an attachment on issue 42",
		"closed":         "Ana closed issue 42",
		"issue_created":  "Ana created issue 42",
		"status_changed": "Ana changed a status on issue 42",
		"review":         "Ana: review on issue 42",
	}
	for action, want := range cases {
		if got := slackinbox.Sentence(event(1, "42", action, "Ana", nil)); got != want {
			t.Errorf("%s: %q, want %q", action, got, want)
		}
	}
	ev := event(1, "42", "closed", "", nil)
	if got := slackinbox.Sentence(ev); got != "users:7 closed issue 42" {
		t.Errorf("without a label: %q", got)
	}
}

func TestDefaultMessageClipsLongValues(t *testing.T) {
	extra := map[string]any{"body": strings.Repeat("<", 5000), "n": 3, "list": []string{"a", "b"}}
	for i := range 15 {
		extra[string(rune('a'+i))+"_field"] = "v"
	}
	m, err := slackinbox.DefaultMessage(context.Background(), event(1, "42", "comment_added", "Ana", extra))
	if err != nil {
		t.Fatal(err)
	}
	fields := m.Blocks[1].(*slackapi.SectionBlock).Fields
	if len(fields) != 10 {
		t.Errorf("%d fields, want Slack's maximum of 10", len(fields))
	}
	for _, f := range fields {
		if len(f.Text) > 2000 {
			t.Errorf("field of %d characters exceeds Slack's 2000", len(f.Text))
		}
	}
}

func TestBuildersPickPerAction(t *testing.T) {
	fixed := func(text string) slackinbox.BuildFunc {
		return func(context.Context, activity.Event) (slackinbox.Message, error) {
			return slackinbox.Message{Text: text}, nil
		}
	}
	b := slackinbox.NewBuilders(nil)
	if err := b.Register("issue", "closed", fixed("closed!")); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("issue", slackinbox.AnyAction, fixed("issue thing")); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("issue", "empty", fixed("")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for action, want := range map[string]string{"closed": "closed!", "reopened": "issue thing"} {
		m, err := b.Build(ctx, event(1, "42", action, "Ana", nil))
		if err != nil || m.Text != want {
			t.Errorf("%s: %q (%v), want %q", action, m.Text, err, want)
		}
	}
	other := event(1, "42", "paid", "Ana", nil)
	other.Domain = "invoice"
	if m, err := b.Build(ctx, other); err != nil || m.Text != "Ana paid invoice 42" {
		t.Errorf("fallback gave %q (%v)", m.Text, err)
	}
	if _, err := b.Build(ctx, event(1, "42", "empty", "Ana", nil)); err == nil {
		t.Error("an empty message was accepted")
	}
	if err := b.Register("", "x", fixed("x")); !errors.Is(err, slackinbox.ErrInvalidConfig) {
		t.Errorf("Register without a domain: %v", err)
	}
}
