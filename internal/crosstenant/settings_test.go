package crosstenant_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/workflow"
)

// settingsWorld is what B keeps among its settings before A calls
// anything: a webhook subscription and a rule declared in code (a keyed
// rule, Rules.Ensure).
type settingsWorld struct {
	subs  *webhook.Subscriptions
	sub   webhook.Subscription // B's
	keyed workflow.Rule        // B's rule of key "welcome"
}

// welcome is the rule an app declares in code, in each tenant, by key.
func welcome(name string) workflow.Rule {
	return workflow.Rule{
		Key: "welcome", Name: name, Domain: "ticket", TriggeredOn: "opened", Enabled: true,
		Actions: []workflow.RuleAction{workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "commented"})},
	}
}

// buildSettings gives B a webhook subscription and its "welcome" rule.
func buildSettings(t *testing.T, w *world) {
	t.Helper()
	keys, err := webhook.NewKeyring("k1", map[string][]byte{"k1": []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	subs, err := webhook.NewSubscriptions(webhook.SubscriptionsConfig{DB: appDB, Keyring: keys, Domains: []*activity.Domain{tickets}, Source: "/tidings/crosstenant"})
	if err != nil {
		t.Fatal(err)
	}
	inB := as(tenantB, "7")
	sub, err := subs.Subscribe(inB, "users:7", webhook.SubscriptionSpec{Domain: "ticket", URL: "https://93.184.216.34/b-hook", Secret: strings.Repeat("b", 16)})
	if err != nil {
		t.Fatal(err)
	}
	keyed, wrote, err := w.rules.Ensure(inB, "app", welcome("B's welcome"))
	if err != nil || !wrote || keyed.Tenant != tenantB {
		t.Fatalf("B's Ensure = %+v, %v, %v", keyed, wrote, err)
	}
	// B's users:9 hears of no comment by mail.
	if err := inbox.Mute(inB, appDB, "9", inbox.ChannelEmail, "ticket", "commented"); err != nil {
		t.Fatal(err)
	}
	w.settings = &settingsWorld{subs: subs, sub: sub, keyed: keyed}
}

// testSettings calls, as tenant A (ctx), the settings APIs on B's
// webhook subscription and B's keyed rule, and A's preference calls of
// the defaults.
func testSettings(t *testing.T, w *world, ctx context.Context) {
	sw := w.settings
	subs, bSub := sw.subs, sw.sub

	cover(subs.Get, subs.List, subs.SetEnabled, subs.Delete, subs.Subscribe)
	if _, err := subs.Get(ctx, bSub.ID); !errors.Is(err, webhook.ErrSubscriptionNotFound) {
		t.Errorf("Get(B's subscription) as A: err = %v, want ErrSubscriptionNotFound", err)
	}
	if err := subs.SetEnabled(ctx, bSub.ID, false); !errors.Is(err, webhook.ErrSubscriptionNotFound) {
		t.Errorf("SetEnabled(B's subscription) as A: err = %v, want ErrSubscriptionNotFound", err)
	}
	if err := subs.Delete(ctx, bSub.ID); !errors.Is(err, webhook.ErrSubscriptionNotFound) {
		t.Errorf("Delete(B's subscription) as A: err = %v, want ErrSubscriptionNotFound", err)
	}
	aSub, err := subs.Subscribe(ctx, "users:8", webhook.SubscriptionSpec{Domain: "ticket", URL: "https://93.184.216.34/a-hook", Secret: strings.Repeat("a", 16)})
	if err != nil || aSub.Tenant != tenantA {
		t.Errorf("Subscribe as A = %+v, %v; want A's subscription", aSub, err)
	}
	for _, domain := range []string{"", "ticket"} {
		list, err := subs.List(ctx, domain)
		if err != nil || len(list) != 1 || list[0].ID != aSub.ID {
			t.Errorf("List(%q) as A = %+v, %v; want A's one subscription", domain, list, err)
		}
	}

	// A's rule of the same key is A's own: B's is neither read nor
	// rewritten.
	cover(w.rules.Ensure)
	mine, wrote, err := w.rules.Ensure(ctx, "app", welcome("A's welcome"))
	if err != nil || !wrote || mine.ID == sw.keyed.ID || mine.Tenant != tenantA || mine.Name != "A's welcome" {
		t.Errorf("Ensure(welcome) as A = %+v, %v, %v; want A's own rule (B's is %d)", mine, wrote, err, sw.keyed.ID)
	}
	if again, wrote, err := w.rules.Ensure(ctx, "app", welcome("A's welcome")); err != nil || wrote || again.ID != mine.ID {
		t.Errorf("Ensure(welcome) again as A = %+v, %v, %v; want A's rule unchanged", again, wrote, err)
	}

	// Who hears of A's comment by mail is decided by A's preferences:
	// B's users:9 muted comments, A's did not.
	defaults := &inbox.Defaults{}
	cover(inbox.Recipients, defaults.Recipients)
	comment := w.tenant[tenantA].events[0] // 7's comment on issue 1
	for name, recipients := range map[string]func(context.Context, *gorm.DB, string, activity.Event, string, []string) ([]string, error){
		"Recipients": inbox.Recipients, "Defaults.Recipients": defaults.Recipients,
	} {
		if got, err := recipients(ctx, appDB, inbox.ChannelEmail, comment, "users", []string{"9"}); err != nil || len(got) != 1 {
			t.Errorf("%s of A's comment by mail as A = %v, %v; want users:9 (B's users:9 muted comments, A's did not)", name, got, err)
		}
	}

	// A batch of A's events on issue 1 goes to A's thread of issue 1 (or
	// opens one anew: the slack case moved A's thread to a parent the fake
	// Slack never had), never to B's.
	cover(w.poster.PostBatch)
	var onIssue1 []activity.Event
	for _, e := range w.tenant[tenantA].events {
		if e.SubjectID == "1" {
			onIssue1 = append(onIssue1, e)
		}
	}
	posted, err := w.poster.PostBatch(ctx, onIssue1, slack.Message{Text: "two comments"})
	if err != nil || posted.ThreadTS == w.tenant[tenantB].thread.TS {
		t.Errorf("PostBatch of A's events on issue 1 = %+v, %v; want it outside B's thread %s", posted, err, w.tenant[tenantB].thread.TS)
	}

	// The defaults' Set as A mutes in A only.
	cover(defaults.Set)
	if err := defaults.Set(ctx, appDB, inbox.Preference{Recipient: "8", Channel: inbox.ChannelEmail, Domain: "ticket", Action: "commented", Muted: true}); err != nil {
		t.Error(err)
	}
	if got, err := inbox.Unmuted(as(tenantB, "8"), appDB, inbox.ChannelEmail, "ticket", "commented", []string{"8"}); err != nil || len(got) != 1 {
		t.Errorf("A's mute reached B: Unmuted in B = %v, %v", got, err)
	}
}
