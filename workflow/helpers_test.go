package workflow_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/workflow"
)

// testApp is the app's workflow setup: its schema, registry (with its own
// "reply" action), rule store and engine.
type testApp struct {
	schema   *workflow.Schema
	registry *workflow.Registry
	rules    *workflow.Rules
	engine   *workflow.Engine
}

type appConfig struct {
	registry workflow.RegistryConfig
	policy   inbox.Policy
	tenant   workflow.TenantFunc
	actions  map[string]workflow.Action // more app actions
}

func newApp(t *testing.T, cfg appConfig) *testApp {
	t.Helper()
	schema, err := workflow.NewSchema(workflow.SchemaConfig{
		Domain: issues,
		Subject: workflow.Object{
			Fields:   workflow.Fields{"created_at": workflow.Time, "title": workflow.String, "tenant": workflow.String},
			Resolver: workflow.ResolverFunc(resolveIssue),
		},
		Records: map[string]workflow.Object{
			"comments": {Fields: workflow.Fields{"body": workflow.String}, Resolver: workflow.ResolverFunc(resolveComment)},
		},
		Extra: workflow.Fields{"body": workflow.String, "status": workflow.ChangeOf(workflow.String), "label": workflow.String},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := workflow.NewRegistry(cfg.registry)
	reg.MustRegister("reply", replyAction())
	for name, a := range cfg.actions {
		reg.MustRegister(name, a)
	}
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg, Tenant: cfg.tenant, Secrets: testKeyring(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.policy.Backoff == nil {
		cfg.policy.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	e, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, Policy: cfg.policy, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &testApp{schema: schema, registry: reg, rules: rules, engine: e}
}

// replyAction is the app's "reply with a comment": a comment row and its
// comment_added event, both written through the action's transaction.
func replyAction() workflow.Action {
	return workflow.Action{
		Doc:    "Reply with a comment on the issue.",
		Params: workflow.ParamSchema{"message": {Type: workflow.String, Required: true}},
		Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			issueID, err := strconv.ParseInt(ac.SubjectID(), 10, 64)
			if err != nil {
				return workflow.Result{}, err
			}
			body := ac.Params.String("message")
			var id int64
			if err := ac.Tx.Raw(`INSERT INTO comments (issue_id, body) VALUES (?, ?) RETURNING id`, issueID, body).Scan(&id).Error; err != nil {
				return workflow.Result{}, err
			}
			rec := activity.Ref{Type: "comments", ID: strconv.FormatInt(id, 10), Label: "comment " + strconv.FormatInt(id, 10)}
			if _, err := issues.RecordEvent(ctx, ac.Tx, issueID, "comment_added", activity.Record(rec), activity.Extra{"body": body}); err != nil {
				return workflow.Result{}, err
			}
			return workflow.Result{Summary: fmt.Sprintf("replied with comment %d", id), Data: map[string]any{"comment_id": id}}, nil
		},
	}
}

func resolveIssue(ctx context.Context, id string) (map[string]any, error) {
	var rows []struct {
		Title     string
		Tenant    string
		CreatedAt time.Time
	}
	if err := testDB.WithContext(ctx).Raw(`SELECT title, tenant, created_at FROM issues WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return map[string]any{"title": rows[0].Title, "tenant": rows[0].Tenant, "created_at": rows[0].CreatedAt}, nil
}

func resolveComment(ctx context.Context, id string) (map[string]any, error) {
	var bodies []string
	if err := testDB.WithContext(ctx).Raw(`SELECT body FROM comments WHERE id = ?`, id).Scan(&bodies).Error; err != nil {
		return nil, err
	}
	if len(bodies) == 0 {
		return nil, nil
	}
	return map[string]any{"body": bodies[0]}, nil
}

func newIssue(t testing.TB, title string, created time.Time) int64 {
	t.Helper()
	var id int64
	if err := testDB.Raw(`INSERT INTO issues (title, created_at) VALUES (?, ?) RETURNING id`, title, created).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	return id
}

var ana = activity.Ref{Type: "users", ID: "1", Label: "Ana"}

// comment adds Ana's comment to an issue and records comment_added.
func comment(t testing.TB, issueID int64, body string) activity.Event {
	t.Helper()
	ctx := context.Background()
	var ev activity.Event
	err := testDB.Transaction(func(tx *gorm.DB) error {
		var id int64
		if err := tx.Raw(`INSERT INTO comments (issue_id, body, author) VALUES (?, ?, 'users:1') RETURNING id`, issueID, body).Scan(&id).Error; err != nil {
			return err
		}
		rec := activity.Ref{Type: "comments", ID: strconv.FormatInt(id, 10), Label: "comment " + strconv.FormatInt(id, 10)}
		res, err := issues.RecordEvent(ctx, tx, issueID, "comment_added", activity.Actor(ana), activity.Record(rec), activity.Extra{"body": body})
		ev = res.Event
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// record records action on an issue as Ana.
func record(t testing.TB, issueID int64, action string, opts ...activity.Option) activity.Event {
	t.Helper()
	res, err := issues.RecordEvent(context.Background(), testDB, issueID, action, append([]activity.Option{activity.Actor(ana)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return res.Event
}

// runOf returns rule's run for ev, if logged.
func runOf(t testing.TB, rules *workflow.Rules, ruleID int64, ev activity.Event) (workflow.Run, bool) {
	t.Helper()
	ref := ev.Ref()
	runs, err := rules.Runs(context.Background(), workflow.RunQuery{RuleID: ruleID, Event: &ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		return workflow.Run{}, false
	}
	return runs[0], true
}

// waitRun waits until rule's run for ev has one of the statuses.
func waitRun(t testing.TB, rules *workflow.Rules, ruleID int64, ev activity.Event, statuses ...workflow.RunStatus) workflow.Run {
	t.Helper()
	var run workflow.Run
	waitFor(t, 20*time.Second, fmt.Sprintf("rule %d's run on %s to be %v", ruleID, ev.Ref(), statuses), func() bool {
		r, ok := runOf(t, rules, ruleID, ev)
		if !ok {
			return false
		}
		run = r
		for _, s := range statuses {
			if r.Status == s {
				return true
			}
		}
		return false
	})
	return run
}

// commentsOn returns the bodies of an issue's comments, oldest first.
func commentsOn(t testing.TB, issueID int64) []string {
	t.Helper()
	var bodies []string
	if err := testDB.Raw(`SELECT body FROM comments WHERE issue_id = ? ORDER BY id`, issueID).Scan(&bodies).Error; err != nil {
		t.Fatal(err)
	}
	return bodies
}

// causedBy returns the events recorded while handling ev.
func causedBy(t testing.TB, ev activity.Event) []activity.Event {
	t.Helper()
	ref := ev.Ref()
	page, err := issues.Feed(context.Background(), testDB, activity.FeedQuery{CausedBy: &ref, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events()
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}
