package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/workflow"
)

// workflowGroup measures the workflow engine's cost per event with 1,000
// enabled rules on one action whose conditions need no resolver: deciding
// which rules match (Engine.Match: the version check, the cached compiled
// rules, every rule's conditions) and handling the event (Engine.Process:
// the same, plus the run log). The baseline is the same call on an action
// with one enabled rule: the fixed cost of an event (the version query,
// decoding the extra, the run-log statement) is on both sides, so the
// ratio is what the other 999 rules add.
//
// It needs no Redis: the engine is called as the worker calls it.
func workflowGroup() group {
	return group{
		name:  "workflow",
		about: "workflow engine cost per event with 1,000 enabled rules on one action, against one rule",
		run:   runWorkflow,
	}
}

const (
	workflowRules      = 1000
	workflowManyAction = "comment_added" // 1,000 rules
	workflowOneAction  = "label_added"   // 1 rule, the baseline
)

// workflowConditions returns rule i's conditions: ten shapes (equality,
// ranges, lists, times, changes, groups, one in ten a regular expression),
// each followed by a test the bench event fails, so that no rule matches
// and every rule is evaluated as far as its shape lets it.
func workflowConditions(i int) workflow.Conditions {
	var c workflow.Conditions
	switch i % 10 {
	case 0:
		c = workflow.Conditions{workflow.Cond("extra.chars", workflow.OpGt, i%50), workflow.Cond("extra.body", workflow.OpContains, fmt.Sprintf("word%d", i%20))}
	case 1:
		c = workflow.Conditions{workflow.Cond("actor.type", workflow.OpEq, "users"), workflow.Cond("extra.body", workflow.OpMatches, fmt.Sprintf(`(?i)\bword%d\b`, i%20))}
	case 2:
		c = workflow.Conditions{workflow.Cond("extra.due_at", workflow.OpOlderThan, fmt.Sprintf("%dd", 1+i%60)), workflow.Cond("extra.tags", workflow.OpContains, "db")}
	case 3:
		c = workflow.Conditions{workflow.AnyOf(workflow.Cond("extra.urgent", workflow.OpEq, true), workflow.Cond("extra.chars", workflow.OpIn, []int{i % 7, i % 11, i % 13})), workflow.Cond("extra.status", workflow.OpChangedTo, "closed")}
	case 4:
		c = workflow.Conditions{workflow.Cond("action", workflow.OpEq, workflowManyAction), workflow.Cond("depth", workflow.OpLt, 3)}
	case 5:
		c = workflow.Conditions{workflow.Cond("actor", workflow.OpIn, []string{"users:3", "users:4", fmt.Sprintf("users:%d", i)}), workflow.Cond("extra.status.from", workflow.OpEq, "open")}
	case 6:
		c = workflow.Conditions{workflow.Cond("extra.body", workflow.OpStartsWith, "This"), workflow.Cond("occurred_at", workflow.OpGt, "2024-01-01"), workflow.Cond("extra.chars", workflow.OpNe, i%30)}
	case 7:
		c = workflow.Conditions{workflow.Cond("record", workflow.OpNotExists, nil), workflow.Cond("extra.tags", workflow.OpContains, fmt.Sprintf("t%d", i%5))}
	case 8:
		c = workflow.Conditions{workflow.AnyOf(workflow.Cond("actor.id", workflow.OpEq, "3"), workflow.AllOf(workflow.Cond("extra.urgent", workflow.OpEq, false), workflow.Cond("extra.chars", workflow.OpGte, i%40)))}
	case 9:
		c = workflow.Conditions{workflow.Cond("extra.due_at", workflow.OpNewerThan, "90d"), workflow.Cond("source", workflow.OpNotExists, nil), workflow.Cond("extra.body", workflow.OpNotIn, []string{"+1", "me too"})}
	}
	return append(c, workflow.Cond("extra.lang", workflow.OpEq, "fr"))
}

// workflowEvent is the event every sample evaluates, with a fresh id.
func workflowEvent(id int64, action string) activity.Event {
	now := time.Now().UTC()
	extra, _ := json.Marshal(map[string]any{
		"body": "This is still broken for word3 users", "chars": 120, "lang": "en",
		"tags": []string{"db", "t1", "t3"}, "urgent": false,
		"status": map[string]any{"from": "open", "to": "closed"},
		"due_at": now.Add(-30 * 24 * time.Hour).Format(time.RFC3339),
	})
	return activity.Event{
		ID: id, Domain: "issue", SubjectID: "1", Action: action,
		ActorType: "users", ActorID: "3", ActorLabel: "User 3",
		Extra: extra, OccurredAt: now, CreatedAt: now, UpdatedAt: now,
	}
}

func runWorkflow(ctx context.Context, b *bench) ([]figure, error) {
	if err := b.db.WithContext(ctx).Exec(`TRUNCATE workflow_rules, workflow_versions, workflow_runs, workflow_action_runs`).Error; err != nil {
		return nil, fmt.Errorf("workflow: empty the workflow tables: %w", err)
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{
		Domain: b.issues,
		Extra: workflow.Fields{
			"body": workflow.String, "chars": workflow.Number, "lang": workflow.String, "tags": workflow.ListOf(workflow.String),
			"urgent": workflow.Bool, "status": workflow.ChangeOf(workflow.String), "due_at": workflow.Time,
		},
	})
	if err != nil {
		return nil, err
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	noop := workflow.Action{Run: func(context.Context, workflow.ActionContext) (workflow.Result, error) { return workflow.Result{}, nil }}
	if err := reg.Register("noop", noop); err != nil {
		return nil, err
	}
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: b.db, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		return nil, err
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules})
	if err != nil {
		return nil, err
	}
	quiet, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, SkipMisses: true})
	if err != nil {
		return nil, err
	}
	b.logf("workflow: creating %d rules on %s and 1 on %s", workflowRules, workflowManyAction, workflowOneAction)
	create := func(i int, action string) error {
		_, err := rules.Create(ctx, "system:bench", workflow.Rule{
			Name: fmt.Sprintf("bench rule %d", i), Domain: "issue", TriggeredOn: action, Enabled: true,
			Conditions: workflowConditions(i),
			Actions:    []workflow.RuleAction{workflow.Do("noop", nil)},
		})
		return err
	}
	for i := range workflowRules {
		if err := create(i, workflowManyAction); err != nil {
			return nil, fmt.Errorf("workflow: create rule %d: %w", i, err)
		}
	}
	if err := create(0, workflowOneAction); err != nil {
		return nil, err
	}

	nextID := int64(1) << 40 // synthetic events: ids no events table uses
	sample := func(action string, f func(ev activity.Event) error) (time.Duration, error) {
		nextID++
		ev := workflowEvent(nextID, action)
		start := time.Now()
		err := f(ev)
		return time.Since(start), err
	}
	match := func(ev activity.Event) error {
		ms, err := engine.Match(ctx, ev)
		if err == nil {
			for _, m := range ms {
				if m.Matched {
					return fmt.Errorf("rule %d matched the bench event: %s", m.Rule.ID, m.Explanation())
				}
			}
		}
		return err
	}
	ledger := inbox.NewLedger(inbox.LedgerConfig{})
	processWith := func(e *workflow.Engine) func(ev activity.Event) error {
		return func(ev activity.Event) error {
			d := &inbox.Delivery{Inbox: e.Name(), Event: ev, Attempt: 1, MaxAttempts: 1, DB: b.db, Ledger: ledger}
			return e.Process(activity.WithCause(ctx, activity.CauseOf(ev)), d)
		}
	}
	measure := func(n int, f func(activity.Event) error) (ours, base []time.Duration, err error) {
		for range max(10, n/10) { // warm up: load and compile the rule sets, fill the pool
			if _, err := sample(workflowManyAction, f); err != nil {
				return nil, nil, err
			}
			if _, err := sample(workflowOneAction, f); err != nil {
				return nil, nil, err
			}
		}
		for i := range n {
			first, second := workflowManyAction, workflowOneAction
			if i%2 == 1 {
				first, second = second, first
			}
			for _, action := range []string{first, second} {
				d, err := sample(action, f)
				if err != nil {
					return nil, nil, err
				}
				if action == workflowManyAction {
					ours = append(ours, d)
				} else {
					base = append(base, d)
				}
			}
		}
		return ours, base, nil
	}

	// The engine's in-memory work per event, without the version query:
	// the stored rules compiled as the engine's cache holds them, one Facts
	// per event, every rule evaluated.
	stored, err := rules.List(ctx, workflow.RuleQuery{TriggeredOn: workflowManyAction, Limit: 1000})
	if err != nil {
		return nil, err
	}
	matchers := make([]*workflow.Matcher, len(stored))
	for i, r := range stored {
		if matchers[i], err = schema.Compile(r.Conditions); err != nil {
			return nil, err
		}
	}
	evaluate := func(ms []*workflow.Matcher) func(ev activity.Event) error {
		return func(ev activity.Event) error {
			facts := schema.NewFacts(ev)
			for _, m := range ms {
				if res, err := m.Evaluate(ctx, facts); err != nil || res.Matched {
					return fmt.Errorf("evaluate: matched %v, error %v", res.Matched, err)
				}
			}
			return nil
		}
	}
	nEval := b.size(20000, 1000)
	b.logf("workflow: %d events through 1,000 compiled rules per side", nEval)
	eo, eb, err := measurePair(nEval, func(id int64) (time.Duration, error) {
		ev := workflowEvent(id, workflowManyAction)
		start := time.Now()
		err := evaluate(matchers)(ev)
		return time.Since(start), err
	}, func(id int64) (time.Duration, error) {
		ev := workflowEvent(id, workflowManyAction)
		start := time.Now()
		err := evaluate(matchers[:1])(ev)
		return time.Since(start), err
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: evaluate: %w", err)
	}

	nMatch := b.size(2000, 200)
	b.logf("workflow: %d events through Engine.Match per side", nMatch)
	mo, mb, err := measure(nMatch, match)
	if err != nil {
		return nil, fmt.Errorf("workflow: match: %w", err)
	}
	nProcess := b.size(300, 50)
	b.logf("workflow: %d events through Engine.Process per side", nProcess)
	po, pb, err := measure(nProcess, processWith(engine))
	if err != nil {
		return nil, fmt.Errorf("workflow: process: %w", err)
	}
	b.logf("workflow: %d events through Engine.Process with SkipMisses per side", nMatch)
	qo, qb, err := measure(nMatch, processWith(quiet))
	if err != nil {
		return nil, fmt.Errorf("workflow: process without misses: %w", err)
	}
	var logged int64
	if err := b.db.WithContext(ctx).Raw(`SELECT count(*) FROM workflow_runs`).Scan(&logged).Error; err != nil {
		return nil, err
	}

	b.note("workflow: %d enabled rules on %s whose conditions need no resolver (ten shapes: equality, ranges, lists, times, changes, groups, one in ten a regular expression; none matches the event); baseline: the same call on %s, which has 1 rule, so the fixed per-event cost (the rules-version query, decoding the extra) is on both sides and the ratio is what 999 more rules add.",
		workflowRules, workflowManyAction, workflowOneAction)
	b.note("workflow: p50s, 1,000 rules vs 1 rule: Engine.Match %.3f vs %.3f ms (%d events each); Engine.Process %.3f vs %.3f ms (%d each), logging one no_match row per rule (%d rows in all); with SkipMisses %.3f vs %.3f ms (%d each).",
		ms(percentile(mo, 50)), ms(percentile(mb, 50)), nMatch, ms(percentile(po, 50)), ms(percentile(pb, 50)), nProcess, logged,
		ms(percentile(qo, 50)), ms(percentile(qb, 50)), nMatch)
	b.note("workflow: evaluating 1,000 compiled rules (in memory, what the engine does per event once its cache is current) p50 %.3f ms vs %.3f ms for 1 rule, over %d events each.",
		ms(percentile(eo, 50)), ms(percentile(eb, 50)), nEval)
	return []figure{
		{Name: "workflow: evaluate 1,000 rules / event, p99", Unit: "ms", Ours: ms(percentile(eo, 99)), Baseline: ms(percentile(eb, 99)), Target: target{Max: 1}},
		{Name: "workflow: decide (+ version query), p99", Unit: "ms", Ours: ms(percentile(mo, 99)), Baseline: ms(percentile(mb, 99))},
		{Name: "workflow: process 1,000 rules / event, p99", Unit: "ms", Ours: ms(percentile(po, 99)), Baseline: ms(percentile(pb, 99))},
		{Name: "workflow: process, misses not logged, p99", Unit: "ms", Ours: ms(percentile(qo, 99)), Baseline: ms(percentile(qb, 99))},
	}, nil
}

// measurePair takes n samples of each side, alternating which goes first,
// after a warm-up, with fresh event ids.
func measurePair(n int, ours, base func(id int64) (time.Duration, error)) (o, b []time.Duration, err error) {
	id := int64(1) << 41
	for i := range max(10, n/10) + n {
		first, second := ours, base
		if i%2 == 1 {
			first, second = base, ours
		}
		id++
		x, err := first(id)
		if err != nil {
			return nil, nil, err
		}
		id++
		y, err := second(id)
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			x, y = y, x
		}
		if i >= max(10, n/10) {
			o, b = append(o, x), append(b, y)
		}
	}
	return o, b, nil
}
