package inbox_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

func issuesOnly() []*activity.Domain { return []*activity.Domain{issues} }

// Mutes apply per channel, domain and action; the most specific choice
// wins.
func TestPreferences(t *testing.T) {
	reset(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	people := []string{"ana", "bo", "cy", "di"}
	must(inbox.Mute(ctx, testDB, "ana", inbox.ChannelEmail, "issue", "comment_added"))
	must(inbox.Mute(ctx, testDB, "bo", inbox.AnyChannel, "issue", inbox.AnyAction))
	// cy mutes all issue email but wants comments.
	must(inbox.Mute(ctx, testDB, "cy", inbox.ChannelEmail, "issue", inbox.AnyAction))
	must(inbox.SetPreference(ctx, testDB, inbox.Preference{Recipient: "cy", Channel: inbox.ChannelEmail, Domain: "issue", Action: "comment_added", Muted: false}))

	cases := []struct {
		channel, action string
		want            []string
	}{
		{inbox.ChannelEmail, "comment_added", []string{"cy", "di"}},
		{inbox.ChannelEmail, "label_added", []string{"ana", "di"}},
		{inbox.ChannelApp, "comment_added", []string{"ana", "cy", "di"}},
		{inbox.ChannelSlack, "label_added", []string{"ana", "cy", "di"}},
	}
	for _, c := range cases {
		got, err := inbox.Unmuted(ctx, testDB, c.channel, "issue", c.action, people)
		must(err)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %s: unmuted %v, want %v", c.channel, c.action, got, c.want)
		}
	}
	must(inbox.Unmute(ctx, testDB, "bo", inbox.AnyChannel, "issue", inbox.AnyAction))
	got, err := inbox.Unmuted(ctx, testDB, inbox.ChannelApp, "issue", "label_added", []string{"bo"})
	must(err)
	if !slices.Equal(got, []string{"bo"}) {
		t.Errorf("after Unmute: %v", got)
	}
	ps, err := inbox.Preferences(ctx, testDB, "cy")
	must(err)
	if len(ps) != 2 {
		t.Errorf("cy's preferences: %+v", ps)
	}
	if err := inbox.Mute(ctx, testDB, "", inbox.ChannelApp, "issue", "x"); err == nil {
		t.Error("a preference without a recipient was accepted")
	}
}
