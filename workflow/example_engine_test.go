package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/workflow"
)

// The classic rule, end to end: the app declares its schema and its
// "reply" action, a user saves a rule (an invalid one is refused), and the
// engine handles a comment on an old issue as the worker would.
func ExampleEngine() {
	ctx := context.Background()
	if err := resetTables(); err != nil {
		panic(err)
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{
		Domain: issues,
		Subject: workflow.Object{
			Fields:   workflow.Fields{"created_at": workflow.Time},
			Resolver: workflow.ResolverFunc(resolveIssue), // SELECT created_at FROM issues WHERE id = ?
		},
	})
	if err != nil {
		panic(err)
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	reg.MustRegister("reply", workflow.Action{
		Doc:    "Reply with a comment on the issue.",
		Params: workflow.ParamSchema{"message": {Type: workflow.String, Required: true}},
		Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			issueID, err := ac.Subject()
			if err != nil {
				return workflow.Result{}, err
			}
			var id int64
			// Every effect goes through ac.Tx: it commits with the record
			// that the action ran, so a retried job does not reply twice.
			if err := ac.Tx.Raw(`INSERT INTO comments (issue_id, body) VALUES (?, ?) RETURNING id`, issueID, ac.Params.String("message")).Scan(&id).Error; err != nil {
				return workflow.Result{}, err
			}
			rec := activity.Ref{Type: "comments", ID: strconv.FormatInt(id, 10)}
			_, err = issues.RecordEvent(ctx, ac.Tx, issueID, "comment_added", activity.Record(rec))
			return workflow.Result{Summary: fmt.Sprintf("replied with comment %d", id)}, err
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		panic(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules})
	if err != nil {
		panic(err)
	}

	stale := workflow.Rule{
		Name:        "Stale issues",
		Domain:      "issue",
		TriggeredOn: "comment_added",
		Conditions:  workflow.Conditions{workflow.Cond("subject.created_at", workflow.OpLt, "2022-01-01")},
		Actions:     []workflow.RuleAction{workflow.Do("reply", workflow.Params{"message": "This issue is stale, open a new one"})},
		Enabled:     true,
	}
	bad := stale
	bad.Conditions = workflow.Conditions{workflow.Cond("subject.created_at", "greater", "2022-01-01")}
	bad.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionWebhook, workflow.Params{"url": "http://example.com/hook"})}
	_, err = rules.Create(ctx, "users:1", bad)
	var ve *workflow.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	rule, err := rules.Create(ctx, "users:1", stale)
	if err != nil {
		panic(err)
	}
	fmt.Println("accepts comment_added:", engine.Accepts("issue", "comment_added"))

	// A comment on an issue from 2021. The worker calls Process with the
	// event as the cause of what the actions record.
	var issueID int64
	testDB.Raw(`INSERT INTO issues (title, created_at) VALUES ('Login fails', '2021-03-04') RETURNING id`).Scan(&issueID)
	res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "3", Label: "Ana"}))
	if err != nil {
		panic(err)
	}
	ev := res.Event
	d := &inbox.Delivery{Inbox: engine.Name(), Event: ev, Attempt: 1, DB: testDB, Ledger: inbox.NewLedger(inbox.LedgerConfig{})}
	if err := engine.Process(activity.WithCause(ctx, activity.CauseOf(ev)), d); err != nil {
		panic(err)
	}

	runs, err := rules.Runs(ctx, workflow.RunQuery{RuleID: rule.ID})
	if err != nil {
		panic(err)
	}
	run := runs[0]
	fmt.Println(run.Status, "-", run.Explanation)
	fmt.Println(run.Actions[0].Status, "-", run.Actions[0].Result.Summary)
	page, _ := issues.Feed(ctx, testDB, activity.FeedQuery{CausedBy: &activity.EventRef{Domain: "issue", ID: ev.ID}})
	reply := page.Events()[0]
	fmt.Printf("%s by %s, caused by the comment: %v, depth %d\n", reply.Action, reply.ActorLabel, *reply.CausationID == ev.ID, reply.Depth)
	// Output:
	// conditions[0].operator: unknown operator "greater"; expected one of eq, ne, lt, lte, gt, gte, in, not_in, contains, starts_with, matches, exists, not_exists, older_than, newer_than, changed_from, changed_to
	// actions[0].params.url: "http://example.com/hook": only https URLs are allowed; got http
	// accepts comment_added: true
	// done - conditions[0]: subject.created_at (2021-03-04) is lt 2022-01-01
	// done - replied with comment 1
	// comment_added by Workflow: Stale issues, caused by the comment: true, depth 1
}
