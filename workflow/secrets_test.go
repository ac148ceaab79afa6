package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/workflow"
)

func testKeyring(t *testing.T) *webhook.Keyring {
	t.Helper()
	k, err := webhook.NewKeyring("k1", map[string][]byte{"k1": []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Webhook secrets are stored sealed, never in plain text; a rule saved by
// an earlier version in plain text is sealed by SealSecretsAllTenants; without a
// keyring a rule with a secret is refused.
func TestRuleSecretsSealedAtRest(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	r := staleRule()
	r.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionWebhook, workflow.Params{"url": "https://93.184.216.34/in", "secret": "plain-s3cret"})}
	saved, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := testDB.Raw(`SELECT actions::text FROM workflow_rules WHERE id = ?`, saved.ID).Scan(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "plain-s3cret") || !strings.Contains(stored, webhook.SealedPrefix) {
		t.Fatalf("stored actions hold the secret in plain text: %s", stored)
	}
	// Saving the rule back as read keeps the sealed value (not sealed twice).
	got, _ := app.rules.Get(ctx, saved.ID)
	again, err := app.rules.Update(ctx, "users:1", got)
	if err != nil || again.Actions[0].Params["secret"] != got.Actions[0].Params["secret"] {
		t.Fatalf("update: %v", err)
	}

	// An earlier version's plain-text secret.
	if err := testDB.Exec(`UPDATE workflow_rules SET actions = '[{"type": "webhook", "params": {"url": "https://93.184.216.34/in", "secret": "legacy-s3cret"}}]' WHERE id = ?`, saved.ID).Error; err != nil {
		t.Fatal(err)
	}
	n, err := app.rules.SealSecretsAllTenants(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SealSecretsAllTenants: %d, %v", n, err)
	}
	if n, _ := app.rules.SealSecretsAllTenants(ctx); n != 0 {
		t.Errorf("second SealSecretsAllTenants rewrote %d rules", n)
	}
	testDB.Raw(`SELECT actions::text FROM workflow_rules WHERE id = ?`, saved.ID).Scan(&stored)
	if strings.Contains(stored, "legacy-s3cret") {
		t.Fatalf("still plain text after SealSecretsAllTenants: %s", stored)
	}

	noKeys, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{app.schema}, Registry: app.registry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = noKeys.Create(ctx, "users:1", r)
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "actions[0].params.secret") {
		t.Fatalf("no keyring: %v", err)
	}
}

// A rule on a renamed action's former name saves under the current name,
// and a rule stored under the former name (by an earlier version) still
// meets the events recorded under the current one.
func TestRuleOnRenamedAction(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	r := staleRule()
	r.Conditions = nil
	r.TriggeredOn = "commented"
	saved, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	if saved.TriggeredOn != "comment_added" {
		t.Fatalf("saved on %q", saved.TriggeredOn)
	}
	if err := testDB.Exec(`UPDATE workflow_rules SET triggered_on = 'commented' WHERE id = ?`, saved.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := app.engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !app.engine.Accepts("issue", "comment_added") || !app.engine.Accepts("issue", "commented") {
		t.Fatal("the engine does not accept the renamed action")
	}
	ev := comment(t, newIssue(t, "Renamed", time.Now()), "hello")
	ms, err := app.engine.Match(ctx, ev)
	if err != nil || len(ms) != 1 || !ms[0].Matched {
		t.Fatalf("matches %+v, %v", ms, err)
	}
}
