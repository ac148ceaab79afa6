package privacy_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// is left once the job is done. Also when the relay had not committed the
// job's inbox_pending row yet as the erasure began (gateRelay): the
// erasure waits for the relay's batch (it failed about 1 run in 13 under
// load before: Ana's email stayed in the action's result).
func TestEraseSettledWaitsForEngineJobsOfRulesNamingThePerson(t *testing.T) {
	for _, c := range []struct {
		name  string
		gated bool
	}{{"relay-committed", false}, {"relay-batch-not-committed", true}} {
		t.Run(c.name, func(t *testing.T) { engineJobOfRuleNamingThePerson(t, c.gated) })
	}
}

func engineJobOfRuleNamingThePerson(t *testing.T, gated bool) {
	ctx := context.Background()
	anaIs, bobIs := someone{name: "Ana Settled", email: "ana.settled@example.net"}, someone{name: "Bob Commenter", email: "bob.commenter@example.net"}
	if gated {
		anaIs, bobIs = someone{name: "Ana Gated", email: "ana.gated@example.net"}, someone{name: "Bob Gatecomment", email: "bob.gatecomment@example.net"}
	}
	ana, bob := newUser(t, anaIs), newUser(t, bobIs)
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Settled') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	rds := redistest.NewPrivate(t)
	redisOpt := asynq.RedisClientOpt{Addr: rds.Addr()}

	h := newHold()
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
				h.stop()
			}
			return workflow.Result{Summary: "noted for " + ac.Params.String("for")}, nil
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := rules.Create(ctx, "users:"+bob.key(), workflow.Rule{Name: "Comments, for Ana", Domain: "issue", TriggeredOn: "comment_added",
		Actions: []workflow.RuleAction{workflow.Do("note", workflow.Params{"for": ana.email})}, Enabled: true})
	if err != nil {
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
	t.Cleanup(func() { h.letGo(); w.Shutdown() })

	var open func()
	if gated {
		open = gateRelay(t)
	}
	res, err := issues.RecordEvent(bob.ctx(bob.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "hello"}))
	if err != nil {
		t.Fatal(err)
	}
	h.waitEntered(t, "the engine's action")

	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	eraseSettledOnRelease(t, ctx, px, ana.person(), privacy.Request{By: "support:3"}, h, open)
	waitUntil(t, "the engine's delivery of Bob's comment to finish", func() bool {
		return count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 0 &&
			count(t, `SELECT count(*) FROM workflow_action_runs WHERE domain = 'issue' AND event_id = ? AND rule_id = ? AND status = 'done'`, res.Event.ID, rule.ID) == 1
	})
	if h := dbHits(t, []string{ana.name, ana.email}); len(h) > 0 {
		t.Errorf("after EraseSettled and the engine's job, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}

// A relay may claim an event a rule naming Ana triggers on after the
// erasure listed the deliveries in flight (it only waits for the batches
// that claimed such events already, and lets go of the rest at once, so
// as not to hold every tenant's events) and before it commits: the
// engine's job reads the rule's version before the masked rule is
// committed, and writes Ana's email into its action's result after the
// erasure. EraseSettled lists those jobs again once the erasure committed,
// waits for them and erases again. The test starts the worker inside the
// erasure (a Part, run after the library's tables): its relay claims Bob's
// comment, and its engine job holds in its action, before the erasure
// commits. Before the fix, EraseSettled returned at once (nothing in flight)
// and the email stayed in workflow_action_runs.result.
func TestEraseSettledWaitsForEngineJobsClaimedDuringTheErasure(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Claimed", email: "ana.claimed@example.net"})
	bob := newUser(t, someone{name: "Bob Latecomer", email: "bob.latecomer@example.net"})
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Claimed during') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	rds := redistest.NewPrivate(t)
	h := newHold()
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
				h.stop()
			}
			return workflow.Result{Summary: "noted for " + ac.Params.String("for")}, nil
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := rules.Create(ctx, "users:"+bob.key(), workflow.Rule{Name: "Comments, noted for Ana", Domain: "issue", TriggeredOn: "comment_added",
		Actions: []workflow.RuleAction{workflow.Do("note", workflow.Params{"for": ana.email})}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: asynq.RedisClientOpt{Addr: rds.Addr()}, Domains: []*activity.Domain{issues, users},
		Inboxes: []inbox.Inbox{engine}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	// Bob's comment waits in the outbox: no relay runs yet.
	res, err := issues.RecordEvent(bob.ctx(bob.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "late"}))
	if err != nil {
		t.Fatal(err)
	}
	var running atomic.Bool
	t.Cleanup(func() {
		h.letGo()
		if running.Load() {
			w.Shutdown()
		}
	})
	relaysDuring := privacy.Part{Name: "relays-during-the-erasure", Erase: func(ctx context.Context, _ *gorm.DB, _ activity.Person) (activity.Erased, error) {
		if running.CompareAndSwap(false, true) {
			if err := w.Start(context.Background()); err != nil {
				return nil, err
			}
		}
		select {
		case <-h.entered: // the engine's job loaded the rule and holds in its action
			return activity.Erased{}, nil
		case <-time.After(20 * time.Second):
			return nil, errors.New("the engine's job of Bob's comment never ran")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart, relaysDuring}})
	if err != nil {
		t.Fatal(err)
	}
	eraseSettledOnRelease(t, ctx, px, ana.person(), privacy.Request{By: "support:6"}, h, nil)
	waitUntil(t, "the engine's delivery of Bob's comment to finish", func() bool {
		return count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 0 &&
			count(t, `SELECT count(*) FROM workflow_action_runs WHERE domain = 'issue' AND event_id = ? AND rule_id = ? AND status = 'done'`, res.Event.ID, rule.ID) == 1
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
	res, h := heldInAppDelivery(t, ana, bob, "Midway", nil)
	finishes := privacy.Part{Name: "finishes-a-delivery", Erase: func(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
		h.letGo()
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

// A relay enqueues a batch's jobs before it commits their inbox_pending
// rows: a delivery of Ana's event can be running, with her old label,
// while its pending row is not visible yet. The erasure waits for that
// batch to commit (it locks the outbox rows the relay claimed), so the
// delivery is counted in flight and EraseSettled erases what it writes.
// The test holds the relay's batch open after its enqueue (gateRelay)
// until the erasure waits for it, or EraseSettled returned without
// waiting (the bug: the name came back in Bob's notification).
func TestEraseSettledWaitsForARelayBatchNotCommittedYet(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Uncommitted", email: "ana.uncommitted@example.net", ip: "192.0.2.78", ua: "UncommittedAgent/1.0"})
	bob := newUser(t, someone{name: "Bob Listener", email: "bob.listener@example.net"})
	open := func() {}
	res, h := heldInAppDelivery(t, ana, bob, "Uncommitted", func() { open = gateRelay(t) })
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	eraseSettledOnRelease(t, ctx, px, ana.person(), privacy.Request{By: "support:5"}, h, open)
	if n := count(t, `SELECT count(*) FROM tidings_erasures WHERE person_type = 'users' AND person_id = ?`, ana.key()); n != 2 {
		t.Errorf("%d erasures of Ana; want 2 (the first counted the running delivery in flight)", n)
	}
	waitUntil(t, "the in-app delivery of Ana's comment to finish", func() bool {
		return count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 0 &&
			count(t, `SELECT count(*) FROM notifications WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 1
	})
	if h := dbHits(t, []string{ana.name, ana.ip, ana.ua}); len(h) > 0 {
		t.Errorf("after EraseSettled, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}

// hold keeps one delivery in flight: the first call of stop (from the
// delivery) signals entered and blocks until letGo.
type hold struct {
	entered, release chan struct{}
	stopped, let     sync.Once
}

func newHold() *hold { return &hold{entered: make(chan struct{}), release: make(chan struct{})} }

func (h *hold) stop() { h.stopped.Do(func() { close(h.entered); <-h.release }) }

// letGo lets the held delivery go on; it may be called more than once.
func (h *hold) letGo() { h.let.Do(func() { close(h.release) }) }

// waitEntered fails the test unless the delivery is held within 20 s.
func (h *hold) waitEntered(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never ran", what)
	}
}

// heldInAppDelivery records a comment by ana on a new issue (titled
// title) and returns once a worker of its own (a private Redis, an in-app
// inbox telling bob) holds the delivery of that event in flight, until
// the hold's letGo (at the latest when the test ends). beforeRecord, when
// not nil, runs once the worker started, just before the event is
// recorded (gateRelay).
func heldInAppDelivery(t *testing.T, ana, bob someone, title string, beforeRecord func()) (activity.Result, *hold) {
	t.Helper()
	ctx := context.Background()
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES (?) RETURNING id`, title).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	rds := redistest.NewPrivate(t)
	app, err := notify.New(notify.Config{Name: "app", RecipientType: "users",
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{bob.key()}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := newHold()
	held := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			if d.Event.Domain == "issue" && d.Event.SubjectID == strconv.FormatInt(issueID, 10) {
				h.stop()
			}
			return next(ctx, d)
		}
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: asynq.RedisClientOpt{Addr: rds.Addr()}, Domains: []*activity.Domain{issues, users},
		Inboxes: []inbox.Inbox{app}, Middleware: []inbox.Middleware{held}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.letGo(); w.Shutdown() })
	if beforeRecord != nil {
		beforeRecord()
	}
	res, err := issues.RecordEvent(ana.ctx(ana.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": strings.ToLower(title)}))
	if err != nil {
		t.Fatal(err)
	}
	h.waitEntered(t, "the in-app delivery")
	return res, h
}

// gateRelay holds the relays' batches open after their enqueue: until
// open is called (at the latest when the test ends, before the cleanups
// registered earlier), a relay's insert of its batch's inbox_pending rows
// waits for this SHARE lock on the table, so the batch's jobs run while
// their pending rows are not visible, as when a relay is slow to commit.
func gateRelay(t *testing.T) (open func()) {
	t.Helper()
	gate := testDB.Begin()
	if err := gate.Exec(`LOCK TABLE inbox_pending IN SHARE MODE`).Error; err != nil {
		gate.Rollback()
		t.Fatal(err)
	}
	var opened sync.Once
	open = func() { opened.Do(func() { gate.Rollback() }) }
	t.Cleanup(open)
	return open
}

// settledResult is what EraseSettled returned.
type settledResult struct {
	e   privacy.Erasure
	err error
}

// erasureWaitsForRelay waits until an erasure waits for a relay's batch
// (privacy's lock of the outbox rows a relay claimed: a lock wait on a
// statement "... FOR SHARE OF o"), or until settled gives EraseSettled's
// result, which it returns (returned: it did not wait).
func erasureWaitsForRelay(t *testing.T, settled <-chan settledResult) (r settledResult, returned bool) {
	t.Helper()
	waitUntil(t, "the erasure to wait for the relay's batch, or EraseSettled to return", func() bool {
		select {
		case r = <-settled:
			returned = true
			return true
		default:
		}
		return count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR SHARE OF o%'`) > 0
	})
	return r, returned
}

// eraseSettledOnRelease runs EraseSettled for who while a delivery is held,
// lets the delivery go (h.letGo) once the first erasure committed,
// and fails the test unless EraseSettled then returns without an error.
// With open (gateRelay's), the relay's batch of the delivery is held
// open: the erasure must wait for it (erasureWaitsForRelay) before open
// lets it commit.
func eraseSettledOnRelease(t *testing.T, ctx context.Context, px *privacy.Privacy, who activity.Person, req privacy.Request, h *hold, open func()) privacy.Erasure {
	t.Helper()
	settled := make(chan settledResult, 1)
	go func() {
		e, err := px.EraseSettled(ctx, testDB, who, req, 20*time.Second)
		settled <- settledResult{e, err}
	}()
	if open != nil {
		if r, returned := erasureWaitsForRelay(t, settled); returned {
			t.Fatalf("EraseSettled returned while a delivery was running whose inbox_pending row the relay had not committed: %+v, %v", r.e, r.err)
		}
		open()
	}
	waitUntil(t, "the first erasure to commit", func() bool {
		return count(t, `SELECT count(*) FROM tidings_erasures WHERE person_type = ? AND person_id = ?`, who.Type, who.ID) >= 1
	})
	h.letGo()
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
