package inbox_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tidingsdev/tidings/inbox"
)

// The app's defaults apply to who chose nothing; a user's choice overrides
// them; a subject mute is the most specific; a critical kind reaches
// everyone and cannot be muted.
func TestDefaultsOverridesAndCritical(t *testing.T) {
	reset(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	d := &inbox.Defaults{
		Off:      []inbox.Kind{{Channel: inbox.ChannelEmail, Domain: "issue", Action: "label_added"}},
		Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "security_alert"}},
	}
	must(d.Check())
	people := []string{"ana", "bo", "cy", "di"}
	wanted := func(channel, action, subject string) []string {
		t.Helper()
		got, err := d.Wanted(ctx, testDB, channel, "issue", action, subject, people)
		must(err)
		return got
	}
	// Defaults: label mail is off, comment mail on.
	if got := wanted(inbox.ChannelEmail, "label_added", "7"); len(got) != 0 {
		t.Errorf("label mail, off by default, reaches %v", got)
	}
	if got := wanted(inbox.ChannelEmail, "comment_added", "7"); !slices.Equal(got, people) {
		t.Errorf("comment mail, on by default, reaches %v", got)
	}
	// Overrides: bo turns label mail on; cy turns comment mail off.
	must(d.Set(ctx, testDB, inbox.Preference{Recipient: "bo", Channel: inbox.ChannelEmail, Domain: "issue", Action: "label_added", Muted: false}))
	must(d.Set(ctx, testDB, inbox.Preference{Recipient: "cy", Channel: inbox.ChannelEmail, Domain: "issue", Action: "comment_added", Muted: true}))
	if got := wanted(inbox.ChannelEmail, "label_added", "7"); !slices.Equal(got, []string{"bo"}) {
		t.Errorf("label mail reaches %v, want only bo, who turned it on", got)
	}
	if got := wanted(inbox.ChannelEmail, "comment_added", "7"); !slices.Equal(got, []string{"ana", "bo", "di"}) {
		t.Errorf("comment mail reaches %v, want all but cy", got)
	}
	// A subject mute: di mutes issue 7 everywhere; issue 8 still reaches her.
	must(d.Set(ctx, testDB, inbox.Preference{Recipient: "di", Channel: inbox.AnyChannel, Domain: "issue", Action: inbox.SubjectAction("7"), Muted: true}))
	if got := wanted(inbox.ChannelApp, "comment_added", "7"); slices.Contains(got, "di") {
		t.Errorf("di muted issue 7, yet its comments reach her: %v", got)
	}
	if got := wanted(inbox.ChannelApp, "comment_added", "8"); !slices.Contains(got, "di") {
		t.Errorf("di muted issue 7 only, yet issue 8's comments miss her: %v", got)
	}
	// Critical: muting it is refused (also through AnyAction), and rows
	// written around the check (an old unsubscribe link) are ignored.
	for _, p := range []inbox.Preference{
		{Recipient: "ana", Channel: inbox.ChannelEmail, Domain: "issue", Action: "security_alert", Muted: true},
		{Recipient: "ana", Channel: inbox.AnyChannel, Domain: "issue", Action: inbox.AnyAction, Muted: true},
	} {
		err := d.Set(ctx, testDB, p)
		var ce *inbox.CriticalError
		if !errors.Is(err, inbox.ErrCritical) || !errors.As(err, &ce) || ce.Kind.Action != "security_alert" {
			t.Errorf("muting %+v: %v, want a *CriticalError naming security_alert", p, err)
		}
	}
	must(inbox.Mute(ctx, testDB, "ana", inbox.AnyChannel, "issue", inbox.AnyAction))
	if got := wanted(inbox.ChannelEmail, "security_alert", "7"); !slices.Equal(got, people) {
		t.Errorf("a critical alert reaches %v, want everyone (mutes do not apply)", got)
	}
	if got := wanted(inbox.ChannelEmail, "comment_added", "7"); slices.Contains(got, "ana") {
		t.Errorf("ana muted all issue mail, yet comments reach her: %v", got)
	}
	// Bad input: a typed error before any write.
	err := d.Set(ctx, testDB, inbox.Preference{Recipient: "ana\x00", Channel: inbox.ChannelEmail, Domain: "issue", Action: "x", Muted: true})
	if !errors.Is(err, inbox.ErrInvalidConfig) {
		t.Errorf("a NUL in the recipient: %v, want ErrInvalidConfig", err)
	}
	if err := (&inbox.Defaults{Off: []inbox.Kind{{Domain: "issue"}}}).Check(); !errors.Is(err, inbox.ErrInvalidConfig) {
		t.Errorf("a kind without channel: %v", err)
	}
}
