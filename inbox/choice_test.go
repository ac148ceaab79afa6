package inbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Each person picks per channel and kind; the app's default covers who
// chose nothing; a critical kind is immediate whatever was chosen.
func TestChoicesPerPersonChannelAndCritical(t *testing.T) {
	reset(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	d := &inbox.Defaults{
		Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "security_alert"}},
		Delivery: []inbox.KindChoice{{Kind: inbox.Kind{Channel: inbox.ChannelEmail, Domain: "issue", Action: inbox.AnyAction}, Choice: inbox.BatchedOn(inbox.EveryHour())}},
	}
	must(d.Check())
	people := []string{"ana", "bo", "cy", "di"}
	choices := func(channel, action string) map[string]inbox.Choice {
		t.Helper()
		got, err := d.Choices(ctx, testDB, channel, "issue", action, "7", people)
		must(err)
		return got
	}
	daily8 := inbox.BatchedOn(inbox.DailyAt(8, 0))
	must(d.SetChoice(ctx, testDB, "ana", inbox.ChannelEmail, "issue", inbox.AnyAction, daily8))
	must(d.SetChoice(ctx, testDB, "bo", inbox.ChannelEmail, "issue", inbox.AnyAction, inbox.ImmediateChoice))
	must(d.SetChoice(ctx, testDB, "cy", inbox.ChannelEmail, "issue", "comment_added", inbox.OffChoice))
	must(d.SetChoice(ctx, testDB, "di", inbox.ChannelApp, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(10*time.Minute))))

	got := choices(inbox.ChannelEmail, "comment_added")
	want := map[string]inbox.Choice{"ana": daily8, "bo": inbox.ImmediateChoice, "cy": inbox.OffChoice, "di": inbox.BatchedOn(inbox.EveryHour())}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("email comment_added for %s: %s, want %s", p, got[p], w)
		}
	}
	if c := choices(inbox.ChannelApp, "comment_added"); c["di"] != inbox.BatchedOn(inbox.FixedWindow(10*time.Minute)) || c["ana"] != inbox.ImmediateChoice {
		t.Errorf("in-app choices %v", c)
	}
	// The more specific choice wins: ana wants comments at once.
	must(d.SetChoice(ctx, testDB, "ana", inbox.ChannelEmail, "issue", "comment_added", inbox.ImmediateChoice))
	if c := choices(inbox.ChannelEmail, "comment_added"); c["ana"] != inbox.ImmediateChoice {
		t.Errorf("ana's exact choice lost to her AnyAction one: %s", c["ana"])
	}
	if c := choices(inbox.ChannelEmail, "label_added"); c["ana"] != daily8 {
		t.Errorf("ana's labels: %s, want %s", c["ana"], daily8)
	}

	// A daily choice for every action does not turn on what the app has
	// off by default.
	d2 := &inbox.Defaults{Off: []inbox.Kind{{Channel: inbox.ChannelEmail, Domain: "issue", Action: "label_added"}}}
	if c, err := d2.Choices(ctx, testDB, inbox.ChannelEmail, "issue", "label_added", "7", []string{"ana"}); err != nil || c["ana"] != inbox.OffChoice {
		t.Errorf("ana's daily choice turned on label mail, off by default: %v %v", c, err)
	}

	// Critical: off is refused; a muted row written around it and a
	// batched choice are both ignored.
	err := d.SetChoice(ctx, testDB, "bo", inbox.ChannelEmail, "issue", "security_alert", inbox.OffChoice)
	if !errors.Is(err, inbox.ErrCritical) {
		t.Errorf("turning a critical kind off: %v, want ErrCritical", err)
	}
	must(inbox.Mute(ctx, testDB, "bo", inbox.ChannelEmail, "issue", "security_alert"))
	for p, c := range choices(inbox.ChannelEmail, "security_alert") {
		if c != inbox.ImmediateChoice {
			t.Errorf("critical kind for %s: %s, want immediate", p, c)
		}
	}

	// Bad input is a typed error before any write.
	for _, c := range []inbox.Choice{{Mode: "sometimes"}, inbox.BatchedOn(inbox.Schedule{}), inbox.BatchedOn(inbox.DailyAt(25, 0))} {
		var ce *inbox.ConfigError
		if err := d.SetChoice(ctx, testDB, "ana", inbox.ChannelEmail, "issue", "x", c); !errors.As(err, &ce) {
			t.Errorf("SetChoice(%+v) = %v, want *ConfigError", c, err)
		}
	}
	var ce *inbox.ConfigError
	if err := d.SetChoice(ctx, testDB, "a\x00", inbox.ChannelEmail, "issue", "x", inbox.ImmediateChoice); !errors.As(err, &ce) {
		t.Errorf("NUL recipient: %v", err)
	}
	for _, s := range []string{"immediate", "off", "hourly", "daily@08:00", "weekly@1@09:30"} {
		c, err := inbox.ParseChoice(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseChoice(%q) = %v, %v", s, c, err)
		}
	}
}

// Choices belong to the context's tenant: a person's choice in one tenant
// is not theirs in another, nor in the untenanted app; a tenant's default
// (Recipient TenantDefault) covers its people who chose nothing, and a
// person's own choice overrides it.
func TestChoicesPerTenant(t *testing.T) {
	reset(t)
	d := &inbox.Defaults{}
	inA := activity.WithTenant(context.Background(), "tenant-a")
	inB := activity.WithTenant(context.Background(), "tenant-b")
	daily8 := inbox.BatchedOn(inbox.DailyAt(8, 0))
	hourly := inbox.BatchedOn(inbox.EveryHour())
	people := []string{"tc-ana", "tc-bo"}
	if err := d.SetChoice(inA, testDB, "tc-ana", inbox.ChannelEmail, "issue", inbox.AnyAction, daily8); err != nil {
		t.Fatal(err)
	}
	if err := d.SetChoice(inB, testDB, inbox.TenantDefault, inbox.ChannelEmail, "issue", inbox.AnyAction, hourly); err != nil {
		t.Fatal(err)
	}
	if err := d.SetChoice(inB, testDB, "tc-bo", inbox.ChannelEmail, "issue", "comment_added", inbox.ImmediateChoice); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ctx  context.Context
		want map[string]inbox.Choice
	}{
		"A":          {inA, map[string]inbox.Choice{"tc-ana": daily8, "tc-bo": inbox.ImmediateChoice}},
		"B":          {inB, map[string]inbox.Choice{"tc-ana": hourly, "tc-bo": inbox.ImmediateChoice}},
		"untenanted": {context.Background(), map[string]inbox.Choice{"tc-ana": inbox.ImmediateChoice, "tc-bo": inbox.ImmediateChoice}},
	} {
		got, err := d.Choices(tc.ctx, testDB, inbox.ChannelEmail, "issue", "comment_added", "7", people)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(people) {
			t.Errorf("%s: choices for %v, want %v only", name, got, people)
		}
		for p, w := range tc.want {
			if got[p] != w {
				t.Errorf("%s: %s gets %s, want %s", name, p, got[p], w)
			}
		}
	}
	if c, ok, err := inbox.ChoiceOf(inA, testDB, "tc-ana", inbox.ChannelEmail, "issue", inbox.AnyAction); err != nil || !ok || c != daily8 {
		t.Errorf("ChoiceOf(ana) in A = %s %v %v, want %s", c, ok, err, daily8)
	}
	for _, ctx := range []context.Context{inB, context.Background()} {
		if c, ok, err := inbox.ChoiceOf(ctx, testDB, "tc-ana", inbox.ChannelEmail, "issue", inbox.AnyAction); err != nil || ok {
			t.Errorf("ChoiceOf(ana) outside A = %s %v %v, want none", c, ok, err)
		}
	}
	// "off" in A mutes in A only.
	if err := d.SetChoice(inA, testDB, "tc-bo", inbox.ChannelEmail, "issue", "comment_added", inbox.OffChoice); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Choices(inB, testDB, inbox.ChannelEmail, "issue", "comment_added", "7", people); err != nil || got["tc-bo"] != inbox.ImmediateChoice {
		t.Errorf("A's off reached B: %v, %v", got, err)
	}
}
