package workflow_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// tableResolver answers DNS lookups from a table: the webhook client's
// resolver, so that a name can resolve to a private address in a test.
type tableResolver map[string]string

func (r tableResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	a, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(a)}}, nil
}

func publicWebhooks() *workflow.WebhookClient {
	return workflow.NewWebhookClient(workflow.WebhookConfig{Resolver: tableResolver{
		"hooks.example.com":    "93.184.215.14",
		"internal.example.com": "10.0.0.7",
	}})
}

func countRows(t testing.TB, table string) int64 {
	t.Helper()
	var n int64
	if err := testDB.Raw(`SELECT count(*) FROM ` + table).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Invalid rules are refused with errors that point at the field, and
// nothing is saved.
func TestInvalidRulesAreRefused(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{registry: workflow.RegistryConfig{Webhook: publicWebhooks()}})
	webhook := func(url string) workflow.Rule {
		r := staleRule()
		r.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionWebhook, workflow.Params{"url": url})}
		return r
	}
	with := func(f func(r *workflow.Rule)) workflow.Rule {
		r := staleRule()
		f(&r)
		return r
	}
	cases := []struct {
		name  string
		rule  workflow.Rule
		field string
		msg   string
	}{
		{"unknown action", with(func(r *workflow.Rule) { r.Actions[0].Type = "replly" }),
			"actions[0].type", `unknown action "replly" (did you mean "reply"?); expected one of notify, record_event, reply, webhook`},
		{"unknown trigger", with(func(r *workflow.Rule) { r.TriggeredOn = "coment_added" }),
			"triggered_on", `unknown action "coment_added" of domain issue (did you mean "comment_added"?); expected one of closed, comment_added, labeled, looped, status_changed`},
		{"unknown operator", with(func(r *workflow.Rule) {
			r.Conditions = append(r.Conditions, workflow.Cond("extra.body", "greater", "x"))
		}), "conditions[1].operator", `unknown operator "greater"; expected one of eq, ne, lt, lte, gt, gte, in, not_in, contains, starts_with, matches, exists, not_exists, older_than, newer_than, changed_from, changed_to`},
		{"type mismatch", with(func(r *workflow.Rule) { r.Conditions[0].Value = "banana" }),
			"conditions[0].value", `subject.created_at is a time, so lt needs an RFC 3339 time ("2022-01-01T00:00:00Z") or a date ("2022-01-01"); got "banana" (a string)`},
		{"type mismatch of an operator", with(func(r *workflow.Rule) { r.Conditions[0] = workflow.Cond("extra.status", workflow.OpGt, "open") }),
			"conditions[0].operator", `gt does not apply to extra.status, which is a change of string; expected one of exists, not_exists, changed_from, changed_to`},
		{"bad regex", with(func(r *workflow.Rule) { r.Conditions[0] = workflow.Cond("extra.body", workflow.OpMatches, "a(b") }),
			"conditions[0].value", `"a(b" is not a valid RE2 regular expression: missing closing ): ` + "`a(b`"},
		{"webhook over http", webhook("http://hooks.example.com/in"),
			"actions[0].params.url", `"http://hooks.example.com/in": only https URLs are allowed; got http`},
		{"webhook to loopback", webhook("https://127.0.0.1/hook"),
			"actions[0].params.url", `"https://127.0.0.1/hook": address 127.0.0.1 is loopback (127.0.0.0/8); webhooks may only reach public addresses`},
		{"webhook to cloud metadata", webhook("https://169.254.169.254/latest/meta-data/"),
			"actions[0].params.url", `"https://169.254.169.254/latest/meta-data/": address 169.254.169.254 is link-local, where cloud metadata services live (169.254.0.0/16); webhooks may only reach public addresses`},
		{"webhook to a name resolving to a private address", webhook("https://internal.example.com/hook"),
			"actions[0].params.url", `"https://internal.example.com/hook": host internal.example.com resolves to 10.0.0.7, which is private (10.0.0.0/8); webhooks may only reach public addresses`},
		{"missing parameter", with(func(r *workflow.Rule) { r.Actions[0].Params = nil }),
			"actions[0].params.message", "required: a string"},
		{"unknown parameter", with(func(r *workflow.Rule) { r.Actions[0].Params["mesage"] = "x" }),
			"actions[0].params.mesage", `unknown parameter "mesage" (did you mean "message"?); expected one of message`},
		{"record_event of an unknown action", with(func(r *workflow.Rule) {
			r.Actions[0] = workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "clsoed"})
		}), "actions[0].params.action", `"clsoed" is not an action of domain issue (did you mean "closed"?)`},
		{"no actions", with(func(r *workflow.Rule) { r.Actions = nil }),
			"actions", "is empty: a rule needs at least one action"},
		{"no name", with(func(r *workflow.Rule) { r.Name = " " }), "name", "required"},
		{"unknown domain", with(func(r *workflow.Rule) { r.Domain = "isue" }),
			"domain", `unknown domain "isue" (did you mean "issue"?); expected one of issue`},
		{"subject scope without a subject", with(func(r *workflow.Rule) { r.Scope = workflow.Scope{Kind: workflow.ScopeSubject} }),
			"scope.id", "required"},
		{"subject scope with a bad key", with(func(r *workflow.Rule) { r.Scope = workflow.SubjectScope("abc") }),
			"scope.id", `"abc" is not a subject key of domain issue`},
		{"subject scope of a missing subject", with(func(r *workflow.Rule) { r.Scope = workflow.SubjectScope("9223372036854775807") }),
			"scope.id", `no issue has the key "9223372036854775807"`},
		{"tenant scope without a tenant function", with(func(r *workflow.Rule) { r.Scope = workflow.TenantScope("acme") }),
			"scope.kind", "tenant scopes need RulesConfig.Tenant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := app.rules.Create(ctx, "users:1", c.rule)
			if !errors.Is(err, workflow.ErrInvalidRule) {
				t.Fatalf("Create: %v, want ErrInvalidRule", err)
			}
			var ve *workflow.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("Create: %v, want one problem", err)
			}
			p := ve.Problems[0]
			if p.Field != c.field || !strings.HasPrefix(p.Message, c.msg) {
				t.Errorf("problem\n got: %s\nwant: %s: %s", p, c.field, c.msg)
			}
			if err := app.rules.Validate(ctx, c.rule); err == nil || err.Error() != ve.Error() {
				t.Errorf("Validate says %v, Create said %v", err, ve)
			}
		})
	}

	// Every problem at once, in the order of the rule's fields.
	_, err := app.rules.Create(ctx, "users:1", workflow.Rule{
		Domain: "issue", TriggeredOn: "comment_added",
		Conditions: workflow.Conditions{workflow.Cond("subject.created", workflow.OpLt, "2022-01-01")},
		Actions:    []workflow.RuleAction{workflow.Do("reply", nil), workflow.Do(workflow.ActionWebhook, workflow.Params{"url": "ftp://x"})},
	})
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Create: %v", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	if got := strings.Join(fields, " "); got != "name conditions[0].attribute actions[0].params.message actions[1].params.url" {
		t.Errorf("fields: %s\n%v", got, err)
	}

	_, err = app.rules.Create(ctx, "", staleRule())
	if !errors.As(err, &ve) || ve.Problems[0].Field != "by" {
		t.Errorf("Create without who: %v", err)
	}
	if n := countRows(t, "workflow_rules"); n != 0 {
		t.Errorf("%d rules saved, want none", n)
	}
	if n := countRows(t, "workflow_versions"); n != 0 {
		t.Errorf("%d versions bumped, want none", n)
	}
}

func TestRulesCRUD(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{registry: workflow.RegistryConfig{Webhook: publicWebhooks()}})

	r := staleRule()
	r.Conditions = append(r.Conditions, workflow.Cond("extra.label", workflow.OpIn, []string{"bug", "p1"}))
	created, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.CreatedBy != "users:1" || created.UpdatedBy != "users:1" || created.Scope.Kind != workflow.ScopeDomain {
		t.Errorf("created: %+v", created)
	}
	got, err := app.rules.Get(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != r.Name || got.TriggeredOn != "comment_added" || len(got.Conditions) != 2 || !got.Enabled ||
		got.Actions[0].Params.String("message") != staleReply || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("got: %+v", got)
	}
	if vs := got.Conditions[1].Value.([]any); len(vs) != 2 || vs[0] != "bug" {
		t.Errorf("stored in-list: %#v", got.Conditions[1].Value)
	}

	if err := testDB.Exec(`INSERT INTO issues (id, title) VALUES (7, 'Seven')`).Error; err != nil {
		t.Fatal(err)
	}
	scoped := staleRule()
	scoped.Name = "Issue 7 only"
	scoped.Scope = workflow.SubjectScope("7")
	scoped.TriggeredOn = "labeled"
	s, err := app.rules.Create(ctx, "users:2", scoped)
	if err != nil {
		t.Fatal(err)
	}

	got.Name = "Stale issues (renamed)"
	got.Actions = append(got.Actions, workflow.Do(workflow.ActionWebhook, workflow.Params{"url": "https://hooks.example.com/in", "secret": "s3"}))
	updated, err := app.rules.Update(ctx, "users:2", got)
	if err != nil {
		t.Fatal(err)
	}
	if updated.CreatedBy != "users:1" || updated.UpdatedBy != "users:2" || !updated.CreatedAt.Equal(created.CreatedAt) || len(updated.Actions) != 2 {
		t.Errorf("updated: %+v", updated)
	}
	bad := updated
	bad.Conditions = workflow.Conditions{workflow.Cond("subject.created_at", "greater", "2022-01-01")}
	if _, err := app.rules.Update(ctx, "users:2", bad); !errors.Is(err, workflow.ErrInvalidRule) {
		t.Errorf("invalid update: %v", err)
	}
	if again, _ := app.rules.Get(ctx, created.ID); again.Name != "Stale issues (renamed)" || len(again.Conditions) != 2 {
		t.Errorf("an invalid update changed the rule: %+v", again)
	}
	missing := updated
	missing.ID = 999
	if _, err := app.rules.Update(ctx, "users:2", missing); !errors.Is(err, workflow.ErrRuleNotFound) {
		t.Errorf("update of a missing rule: %v", err)
	}

	list, err := app.rules.List(ctx, workflow.RuleQuery{Domain: "issue"})
	if err != nil || len(list) != 2 || list[0].ID != created.ID || list[1].ID != s.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
	sub := workflow.SubjectScope("7")
	if list, _ := app.rules.List(ctx, workflow.RuleQuery{Scope: &sub}); len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("list by scope: %+v", list)
	}
	if list, _ := app.rules.List(ctx, workflow.RuleQuery{AfterID: created.ID}); len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("list after: %+v", list)
	}

	if !app.engine.Accepts("issue", "labeled") {
		t.Error("the engine should accept labeled")
	}
	off, err := app.rules.SetEnabled(ctx, "users:3", s.ID, false)
	if err != nil || off.Enabled || off.UpdatedBy != "users:3" {
		t.Fatalf("disable: %v %+v", err, off)
	}
	if app.engine.Accepts("issue", "labeled") {
		t.Error("a disabled rule's trigger is still accepted")
	}
	f := false
	if list, _ := app.rules.List(ctx, workflow.RuleQuery{Enabled: &f}); len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("list disabled: %+v", list)
	}
	if _, err := app.rules.SetEnabled(ctx, "users:3", s.ID, true); err != nil {
		t.Fatal(err)
	}
	if !app.engine.Accepts("issue", "labeled") {
		t.Error("a re-enabled rule's trigger is not accepted")
	}

	if err := app.rules.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := app.rules.Get(ctx, s.ID); !errors.Is(err, workflow.ErrRuleNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := app.rules.Delete(ctx, s.ID); !errors.Is(err, workflow.ErrRuleNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if app.engine.Accepts("issue", "labeled") {
		t.Error("a deleted rule's trigger is still accepted")
	}
}

// A rule saved before the schema changed (simulated by writing it
// directly) cannot be enabled again, and the engine logs why it cannot run.
func TestStaleStoredRule(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	var id int64
	err := testDB.Raw(`INSERT INTO workflow_rules (name, domain, scope_kind, triggered_on, conditions, actions, enabled, created_by, updated_by)
VALUES ('Old', 'issue', 'domain', 'labeled', '[{"attribute": "subject.priority", "operator": "gt", "value": 2}]',
        '[{"type": "reply", "params": {"message": "hi"}}]', false, 'users:1', 'users:1') RETURNING id`).Scan(&id).Error
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.rules.SetEnabled(ctx, "users:1", id, true)
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) || ve.Problems[0].Field != "conditions[0].attribute" {
		t.Fatalf("enable: %v", err)
	}
	// Enabled behind the store's back: the engine refuses to run it and
	// says why.
	if err := testDB.Exec(`UPDATE workflow_rules SET enabled = true WHERE id = ?`, id).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`INSERT INTO workflow_versions (domain, version) VALUES ('issue', 100)`).Error; err != nil {
		t.Fatal(err)
	}
	ev := record(t, newIssue(t, "x", time.Now()), "labeled")
	if err := app.engine.Process(ctx, delivery(ev, 1)); err != nil {
		t.Fatal(err)
	}
	run, ok := runOf(t, app.rules, id, ev)
	if !ok || run.Status != workflow.RunFailed || !strings.Contains(run.Error, `unknown attribute "subject.priority"`) || countRows(t, "comments") != 0 {
		t.Errorf("run: %+v", run)
	}
}

// Rule changes reach an engine whichever process makes them: a job meets
// the rules as of its start (a version check), and Run refreshes Accepts
// on the change notification.
func TestChangesFromAnotherProcess(t *testing.T) {
	reset(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := newApp(t, appConfig{})
	other := newApp(t, appConfig{}) // another process's store: app's engine does not watch it
	ran := make(chan error, 1)
	go func() { ran <- app.engine.Run(ctx) }()

	ev := record(t, newIssue(t, "Old", date("2021-01-01")), "comment_added", activity.Extra{"body": "hi"})
	if ms, err := app.engine.Match(ctx, ev); err != nil || len(ms) != 0 {
		t.Fatalf("match before any rule: %v %+v", err, ms)
	}
	rule, err := other.rules.Create(ctx, "users:1", staleRule())
	if err != nil {
		t.Fatal(err)
	}
	// The version check: the next job sees the rule at once.
	ms, err := app.engine.Match(ctx, ev)
	if err != nil || len(ms) != 1 || ms[0].Rule.ID != rule.ID || !ms[0].Matched || !strings.Contains(ms[0].Explanation(), "is lt") {
		t.Fatalf("match after the rule was created elsewhere: %v %+v", err, ms)
	}
	// The notification: Accepts follows without a job.
	disabledElsewhere, err := other.rules.SetEnabled(ctx, "users:1", rule.ID, false)
	if err != nil || disabledElsewhere.Enabled {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Accepts to drop comment_added", func() bool { return !app.engine.Accepts("issue", "comment_added") })
	if _, err := other.rules.SetEnabled(ctx, "users:1", rule.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Accepts to take comment_added", func() bool { return app.engine.Accepts("issue", "comment_added") })
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}
