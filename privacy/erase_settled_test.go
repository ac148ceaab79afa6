package privacy_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
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
	eraseSettledOnRelease(t, ctx, px, ana, privacy.Request{By: "support:3"}, release)
	waitUntil(t, "the engine's delivery of Bob's comment to finish", func() bool {
		return count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 0 &&
			count(t, `SELECT count(*) FROM workflow_action_runs WHERE domain = 'issue' AND event_id = ? AND status = 'done'`, res.Event.ID) == 1
	})
	if h := dbHits(t, []string{ana.name, ana.email}); len(h) > 0 {
		t.Errorf("after EraseSettled and the engine's job, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}

// A delivery that loaded Ana's event before the erasure and finishes while
// the erasure runs, after the table it writes was masked, is counted in
// flight all the same (the deliveries are listed before anything is
// masked): EraseSettled erases again. A Part of the erasure, which runs
// after the library's tables, lets the delivery finish and waits for it.
func TestEraseSettledCountsDeliveriesFinishingDuringTheErasure(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Midway", email: "ana.midway@example.net", ip: "192.0.2.77", ua: "MidwayAgent/1.0"})
	bob := newUser(t, someone{name: "Bob Reader", email: "bob.reader@example.net"})
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Midway') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	rds := redistest.NewPrivate(t)
	app, err := notify.New(notify.Config{Name: "app", RecipientType: "users",
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{bob.key()}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var (
		entered = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
	)
	hold := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			if d.Event.Domain == "issue" && d.Event.SubjectID == strconv.FormatInt(issueID, 10) {
				once.Do(func() { close(entered); <-release })
			}
			return next(ctx, d)
		}
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: asynq.RedisClientOpt{Addr: rds.Addr()}, Domains: []*activity.Domain{issues, users},
		Inboxes: []inbox.Inbox{app}, Middleware: []inbox.Middleware{hold}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var released sync.Once
	letGo := func() { released.Do(func() { close(release) }) }
	t.Cleanup(func() { letGo(); w.Shutdown() })

	res, err := issues.RecordEvent(ana.ctx(ana.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "midway"}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the in-app delivery never started")
	}
	finishes := privacy.Part{Name: "finishes-a-delivery", Erase: func(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
		letGo()
		deadline := time.Now().Add(20 * time.Second)
		for count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) > 0 {
			if time.Now().After(deadline) {
				return nil, errors.New("the delivery did not finish")
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		return activity.Erased{}, nil
	}}
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart, finishes}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := px.EraseSettled(ctx, testDB, ana.person(), privacy.Request{By: "support:4"}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if h := dbHits(t, []string{ana.name, ana.ip, ana.ua}); len(h) > 0 {
		t.Errorf("after EraseSettled, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}

// eraseSettledOnRelease runs EraseSettled for who while a delivery is held,
// lets the delivery go (closes release) once the first erasure committed,
// and fails the test unless EraseSettled then returns without an error.
func eraseSettledOnRelease(t *testing.T, ctx context.Context, px *privacy.Privacy, who someone, req privacy.Request, release chan struct{}) privacy.Erasure {
	t.Helper()
	type result struct {
		e   privacy.Erasure
		err error
	}
	settled := make(chan result, 1)
	go func() {
		e, err := px.EraseSettled(ctx, testDB, who.person(), req, 20*time.Second)
		settled <- result{e, err}
	}()
	waitUntil(t, "the first erasure to commit", func() bool {
		return count(t, `SELECT count(*) FROM tidings_erasures WHERE person_type = 'users' AND person_id = ?`, who.key()) >= 1
	})
	close(release)
	select {
	case r := <-settled:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.e
	case <-time.After(30 * time.Second):
		t.Fatal("EraseSettled did not return")
	}
	return privacy.Erasure{}
}
