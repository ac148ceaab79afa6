package privacy_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/workflow"
)

// An engine job that loaded a rule naming Ana before her erasure, for an
// event of someone else's (so not a delivery of her events), writes the
// rule's parameter into its action's result after the erasure. The
// erasure counts that delivery in flight (the rule triggers on the event's
// action), and EraseSettled waits for it and erases again: nothing of Ana
// is left once the job is done.
func TestEraseSettledWaitsForEngineJobsOfRulesNamingThePerson(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Settled", email: "ana.settled@example.net"})
	bob := newUser(t, someone{name: "Bob Commenter", email: "bob.commenter@example.net"})
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Settled') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	rds := redistest.NewPrivate(t)
	redisOpt := asynq.RedisClientOpt{Addr: rds.Addr()}

	var (
		entered = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
	)
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: issues})
	if err != nil {
		t.Fatal(err)
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	reg.MustRegister("note", workflow.Action{
		Doc:    "Note a comment for someone.",
		Params: workflow.ParamSchema{"for": {Type: workflow.String, Required: true}},
		Run: func(_ context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			if ac.Event.SubjectID == strconv.FormatInt(issueID, 10) {
				once.Do(func() { close(entered); <-release })
			}
			return workflow.Result{Summary: "noted for " + ac.Params.String("for")}, nil
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Create(ctx, "users:"+bob.key(), workflow.Rule{Name: "Comments, for Ana", Domain: "issue", TriggeredOn: "comment_added",
		Actions: []workflow.RuleAction{workflow.Do("note", workflow.Params{"for": ana.email})}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues, users},
		Inboxes: []inbox.Inbox{engine}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		w.Shutdown()
	})

	res, err := issues.RecordEvent(bob.ctx(bob.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "hello"}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the engine's action never ran")
	}

	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		e   privacy.Erasure
		err error
	}
	settled := make(chan result, 1)
	go func() {
		e, err := px.EraseSettled(ctx, testDB, ana.person(), privacy.Request{By: "support:3"}, 20*time.Second)
		settled <- result{e, err}
	}()
	waitUntil(t, "the first erasure to commit", func() bool {
		return count(t, `SELECT count(*) FROM tidings_erasures WHERE person_type = 'users' AND person_id = ?`, ana.key()) >= 1
	})
	close(release)
	var r result
	select {
	case r = <-settled:
	case <-time.After(30 * time.Second):
		t.Fatal("EraseSettled did not return")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	waitUntil(t, "the engine's delivery of Bob's comment to finish", func() bool {
		return count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 0 &&
			count(t, `SELECT count(*) FROM workflow_action_runs WHERE domain = 'issue' AND event_id = ? AND status = 'done'`, res.Event.ID) == 1
	})
	if h := dbHits(t, []string{ana.name, ana.email}); len(h) > 0 {
		t.Errorf("after EraseSettled and the engine's job, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}
