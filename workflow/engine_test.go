package workflow_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/workflow"
)

const staleReply = "This issue is stale, open a new one"

// staleRule is the classic: a comment on an issue created before 2022 gets
// a reply.
func staleRule() workflow.Rule {
	return workflow.Rule{
		Name:        "Stale issues",
		Domain:      "issue",
		TriggeredOn: "comment_added",
		Conditions:  workflow.Conditions{workflow.Cond("subject.created_at", workflow.OpLt, "2022-01-01")},
		Actions:     []workflow.RuleAction{workflow.Do("reply", workflow.Params{"message": staleReply})},
		Enabled:     true,
	}
}

// The classic rule, through the real relay, asynq and worker: a comment
// on an old issue gets the reply, recorded as an event caused by the
// comment; a comment on a new issue does not; the reply (itself a
// comment_added) does not trigger the rule again.
func TestStaleIssueGetsReply(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	rule, err := app.rules.Create(ctx, "users:1", staleRule())
	if err != nil {
		t.Fatal(err)
	}
	if !app.engine.Accepts("issue", "comment_added") || app.engine.Accepts("issue", "labeled") {
		t.Fatal("after Create, the engine should accept comment_added and only it")
	}
	startWorker(t, app.engine)

	oldIssue := newIssue(t, "Login fails", date("2021-03-04"))
	newIssueID := newIssue(t, "Dark mode", date("2023-05-01"))
	onOld := comment(t, oldIssue, "still broken for me")
	onNew := comment(t, newIssueID, "me too")

	run := waitRun(t, app.rules, rule.ID, onOld, workflow.RunDone)
	if !run.Matched || run.Explanation != "conditions[0]: subject.created_at (2021-03-04) is lt 2022-01-01" {
		t.Errorf("run on the old issue: matched %v, explanation %q", run.Matched, run.Explanation)
	}
	if len(run.Actions) != 1 || run.Actions[0].Status != workflow.ActionDone || run.Actions[0].Result == nil ||
		!strings.HasPrefix(run.Actions[0].Result.Summary, "replied with comment") {
		t.Errorf("action runs: %+v", run.Actions)
	}

	// The reply is an event caused by the comment, by the workflow actor.
	caused := causedBy(t, onOld)
	if len(caused) != 1 {
		t.Fatalf("events caused by %s: %d, want 1 (the reply)", onOld.Ref(), len(caused))
	}
	reply := caused[0]
	if reply.Action != "comment_added" || reply.CausationID == nil || *reply.CausationID != onOld.ID ||
		reply.Depth != 1 || reply.ActorType != "system" || reply.ActorID != "workflow" ||
		reply.Source == nil || *reply.Source != workflow.WorkflowSource {
		t.Errorf("reply event: %+v (causation %v, source %v)", reply, reply.CausationID, reply.Source)
	}
	if reply.ActorLabel != "Workflow: Stale issues" {
		t.Errorf("reply actor label %q", reply.ActorLabel)
	}

	// The reply does not trigger the rule again: the rule does not allow
	// workflow triggers.
	again := waitRun(t, app.rules, rule.ID, reply, workflow.RunNoMatch)
	if !strings.Contains(again.Explanation, "recorded by a workflow action") {
		t.Errorf("run on the reply: %q", again.Explanation)
	}

	notRun := waitRun(t, app.rules, rule.ID, onNew, workflow.RunNoMatch)
	if notRun.Matched || notRun.Explanation != "conditions[0]: subject.created_at (2023-05-01) is not lt 2022-01-01" || len(notRun.Actions) != 0 {
		t.Errorf("run on the new issue: %+v", notRun)
	}
	if got := commentsOn(t, oldIssue); !slices.Equal(got, []string{"still broken for me", staleReply}) {
		t.Errorf("comments on the old issue: %q", got)
	}
	if got := commentsOn(t, newIssueID); !slices.Equal(got, []string{"me too"}) {
		t.Errorf("comments on the new issue: %q", got)
	}
	if got := causedBy(t, onNew); len(got) != 0 {
		t.Errorf("the comment on the new issue caused %d events", len(got))
	}
}

// loopRule records the very action it triggers on.
func loopRule(allow bool) workflow.Rule {
	return workflow.Rule{
		Name:                  "Loop",
		Domain:                "issue",
		TriggeredOn:           "looped",
		Actions:               []workflow.RuleAction{workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "looped"})},
		AllowWorkflowTriggers: allow,
		Enabled:               true,
	}
}

// A rule whose action records the action it triggers on (and that allows
// workflow triggers) runs down the causation chain until recording would
// pass the domain's MaxDepth; that run stops, says so, and is not retried.
func TestLoopStopsAtDepthLimit(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	rule, err := app.rules.Create(ctx, "users:1", loopRule(true))
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, app.engine)
	issue := newIssue(t, "Loop", time.Now())
	first := record(t, issue, "looped")

	chain := []activity.Event{first}
	for d := 1; d <= activity.DefaultMaxDepth; d++ {
		prev := chain[len(chain)-1]
		waitRun(t, app.rules, rule.ID, prev, workflow.RunDone)
		next := causedBy(t, prev)
		if len(next) != 1 || next[0].Depth != d || next[0].Action != "looped" {
			t.Fatalf("events caused by %s (depth %d): %+v", prev.Ref(), prev.Depth, next)
		}
		chain = append(chain, next[0])
	}
	last := chain[len(chain)-1]
	stopped := waitRun(t, app.rules, rule.ID, last, workflow.RunStopped)
	if !stopped.Matched || !strings.HasPrefix(stopped.Error, "stopped: causation depth limit") || stopped.Attempts != 1 {
		t.Errorf("run at depth %d: %+v", last.Depth, stopped)
	}
	if len(stopped.Actions) != 1 || stopped.Actions[0].Status != workflow.ActionStopped {
		t.Errorf("action run at the limit: %+v", stopped.Actions)
	}
	if got := causedBy(t, last); len(got) != 0 {
		t.Errorf("the event at the limit caused %d events", len(got))
	}
	// The stopped run completed its job: no retry, no dead letter.
	waitFor(t, 10*time.Second, "every job to succeed", func() bool {
		return w.Metrics().Of(app.engine.Name()).Succeeded >= int64(len(chain))
	})
	if c := w.Metrics().Of(app.engine.Name()); c.Retried != 0 || c.Failed != 0 {
		t.Errorf("engine jobs: %+v", c)
	}
	var dead int64
	if err := testDB.Raw(`SELECT count(*) FROM inbox_dead_letters`).Scan(&dead).Error; err != nil {
		t.Fatal(err)
	}
	if dead != 0 {
		t.Errorf("%d dead letters", dead)
	}
}

// By default a rule does not react to what workflow actions record, so the
// same rule runs once.
func TestRuleIgnoresWorkflowEventsByDefault(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	rule, err := app.rules.Create(ctx, "users:1", loopRule(false))
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, app.engine)
	first := record(t, newIssue(t, "Once", time.Now()), "looped")
	waitRun(t, app.rules, rule.ID, first, workflow.RunDone)
	caused := causedBy(t, first)
	if len(caused) != 1 {
		t.Fatalf("caused %d events, want 1", len(caused))
	}
	run := waitRun(t, app.rules, rule.ID, caused[0], workflow.RunNoMatch)
	if !strings.Contains(run.Explanation, "does not allow workflow triggers") {
		t.Errorf("explanation %q", run.Explanation)
	}
	if got := causedBy(t, caused[0]); len(got) != 0 {
		t.Errorf("the rule's own event caused %d more", len(got))
	}
}

// A job that crashes between a rule's two actions (the second panics after
// the first committed) is retried by the worker without repeating the
// first.
func TestCrashBetweenActionsDoesNotRepeatTheFirst(t *testing.T) {
	reset(t)
	ctx := context.Background()
	var calls atomic.Int32
	app := newApp(t, appConfig{actions: map[string]workflow.Action{
		"boom": {
			Doc: "Panics the first time it runs.",
			Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
				if calls.Add(1) == 1 {
					panic("the process dies here")
				}
				return workflow.Result{Summary: "fine now"}, nil
			},
		},
	}})
	rule, err := app.rules.Create(ctx, "users:1", workflow.Rule{
		Name: "Two steps", Domain: "issue", TriggeredOn: "labeled", Enabled: true,
		Actions: []workflow.RuleAction{
			workflow.Do("reply", workflow.Params{"message": "step one"}),
			workflow.Do("boom", nil),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, app.engine)
	issue := newIssue(t, "Crashy", time.Now())
	ev := record(t, issue, "labeled", activity.Extra{"label": "bug"})

	run := waitRun(t, app.rules, rule.ID, ev, workflow.RunDone)
	if calls.Load() != 2 {
		t.Errorf("boom ran %d times, want 2 (a panic, then the retry)", calls.Load())
	}
	if got := commentsOn(t, issue); !slices.Equal(got, []string{"step one"}) {
		t.Errorf("comments: %q; the first action must run once", got)
	}
	if run.Attempts != 2 || len(run.Actions) != 2 {
		t.Fatalf("run: %+v", run)
	}
	if a := run.Actions[0]; a.Status != workflow.ActionDone || a.Attempts != 1 {
		t.Errorf("first action run: %+v", a)
	}
	if a := run.Actions[1]; a.Status != workflow.ActionDone || a.Attempts != 2 || a.Result == nil || a.Result.Summary != "fine now" {
		t.Errorf("second action run: %+v", a)
	}
	if n := len(causedBy(t, ev)); n != 1 {
		t.Errorf("the event caused %d events, want 1 reply", n)
	}
}

// The same guarantee without a worker, for an action that fails with an
// error after the first committed, and for an external first action: the
// retry neither re-runs the database action nor re-sends the external one.
func TestRetryAfterErrorSkipsDoneActions(t *testing.T) {
	reset(t)
	ctx := context.Background()
	var external, flaky atomic.Int32
	app := newApp(t, appConfig{actions: map[string]workflow.Action{
		"ping": {
			External: true,
			Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
				external.Add(1)
				return workflow.Result{Summary: "pinged " + ac.IdempotencyKey}, nil
			},
		},
		"flaky": {
			Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
				if flaky.Add(1) == 1 {
					return workflow.Result{}, errors.New("database hiccup")
				}
				return workflow.Result{}, nil
			},
		},
	}})
	rule, err := app.rules.Create(ctx, "users:1", workflow.Rule{
		Name: "Three steps", Domain: "issue", TriggeredOn: "labeled", Enabled: true,
		Actions: []workflow.RuleAction{
			workflow.Do("ping", nil),
			workflow.Do("reply", workflow.Params{"message": "once"}),
			workflow.Do("flaky", nil),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	issue := newIssue(t, "Flaky", time.Now())
	ev := record(t, issue, "labeled")
	d := delivery(ev, 1)
	err = app.engine.Process(activity.WithCause(ctx, activity.CauseOf(ev)), d)
	if err == nil || !strings.Contains(err.Error(), "actions[2] (flaky): database hiccup") {
		t.Fatalf("first attempt: %v", err)
	}
	run, _ := runOf(t, app.rules, rule.ID, ev)
	if run.Status != workflow.RunFailed || !strings.Contains(run.Error, "database hiccup") {
		t.Errorf("run after the failure: %+v", run)
	}
	if err := app.engine.Process(activity.WithCause(ctx, activity.CauseOf(ev)), delivery(ev, 2)); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	// A third delivery (a duplicate job) does nothing.
	if err := app.engine.Process(activity.WithCause(ctx, activity.CauseOf(ev)), delivery(ev, 1)); err != nil {
		t.Fatalf("duplicate: %v", err)
	}
	if external.Load() != 1 || flaky.Load() != 2 {
		t.Errorf("ping ran %d times (want 1), flaky %d (want 2)", external.Load(), flaky.Load())
	}
	if got := commentsOn(t, issue); !slices.Equal(got, []string{"once"}) {
		t.Errorf("comments: %q", got)
	}
	run, _ = runOf(t, app.rules, rule.ID, ev)
	if run.Status != workflow.RunDone || run.Attempts != 2 {
		t.Errorf("run: %+v", run)
	}
	want := []workflow.ActionStatus{workflow.ActionSent, workflow.ActionDone, workflow.ActionDone}
	for i, a := range run.Actions {
		if a.Status != want[i] {
			t.Errorf("actions[%d]: %+v", i, a)
		}
	}
}

// delivery is what the worker hands the engine for attempt n of ev.
func delivery(ev activity.Event, n int) *inbox.Delivery {
	return &inbox.Delivery{
		Inbox: workflow.DefaultEngineName, Event: ev, Attempt: n, MaxAttempts: 11,
		DB: testDB, Ledger: inbox.NewLedger(inbox.LedgerConfig{}), Logger: testLogger(),
	}
}

// With SkipMisses, the run log keeps the rules that matched only.
func TestSkipMisses(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	quiet, err := workflow.NewEngine(workflow.EngineConfig{Rules: app.rules, SkipMisses: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := app.rules.Create(ctx, "users:1", staleRule())
	if err != nil {
		t.Fatal(err)
	}
	onNew := comment(t, newIssue(t, "New", date("2024-01-01")), "hi")
	onOld := comment(t, newIssue(t, "Old", date("2020-01-01")), "hi")
	for _, ev := range []activity.Event{onNew, onOld} {
		if err := quiet.Process(activity.WithCause(ctx, activity.CauseOf(ev)), delivery(ev, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := runOf(t, app.rules, rule.ID, onNew); ok {
		t.Error("a miss was logged")
	}
	if run, ok := runOf(t, app.rules, rule.ID, onOld); !ok || run.Status != workflow.RunDone {
		t.Errorf("the match: %+v", run)
	}
}

// A process that dies between a rule's two actions leaves no failure
// record at all (no error handler ran): the first action's row committed,
// the run says running. Another process's engine, on the job's retry,
// resumes at the second action.
func TestProcessDiesBetweenActions(t *testing.T) {
	reset(t)
	ctx := context.Background()
	var die atomic.Bool
	die.Store(true)
	var second atomic.Int32
	actions := map[string]workflow.Action{
		"second": {Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			second.Add(1)
			if die.Load() {
				runtime.Goexit() // the process dies: nothing after this runs
			}
			return workflow.Result{Summary: "second ran"}, nil
		}},
	}
	first := newApp(t, appConfig{actions: actions})
	rule, err := first.rules.Create(ctx, "users:1", workflow.Rule{
		Name: "Two steps", Domain: "issue", TriggeredOn: "labeled", Enabled: true,
		Actions: []workflow.RuleAction{workflow.Do("reply", workflow.Params{"message": "step one"}), workflow.Do("second", nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	issue := newIssue(t, "Dies", time.Now())
	ev := record(t, issue, "labeled")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = first.engine.Process(activity.WithCause(ctx, activity.CauseOf(ev)), delivery(ev, 1))
	}()
	<-done
	run, _ := runOf(t, first.rules, rule.ID, ev)
	if run.Status != workflow.RunRunning || len(run.Actions) != 1 || run.Actions[0].Status != workflow.ActionDone {
		t.Fatalf("after the crash: %+v", run)
	}

	die.Store(false)
	restarted := newApp(t, appConfig{actions: actions}) // a new process
	if err := restarted.engine.Process(activity.WithCause(ctx, activity.CauseOf(ev)), delivery(ev, 2)); err != nil {
		t.Fatal(err)
	}
	run, _ = runOf(t, first.rules, rule.ID, ev)
	if run.Status != workflow.RunDone || run.Attempts != 2 || len(run.Actions) != 2 || run.Actions[0].Attempts != 1 || run.Actions[1].Attempts != 1 {
		t.Errorf("after the retry: %+v", run)
	}
	if got := commentsOn(t, issue); !slices.Equal(got, []string{"step one"}) {
		t.Errorf("comments: %q", got)
	}
	if second.Load() != 2 {
		t.Errorf("second ran %d times", second.Load())
	}
}
