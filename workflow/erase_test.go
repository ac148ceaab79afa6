package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// An erasure invalidates engines' cached rules the way an edit does: an
// engine that ran a rule naming the person (its name, its reply) before
// the erasure runs the masked rule after it, and never writes the name
// into a new run or a new reply. ErasePerson is a function of the tables,
// not of a Rules store, so the engine learns of it through the database
// only, as an engine in another process does. An editor still holding the
// rule from before cannot write the name back.
func TestErasureInvalidatesCachedRules(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	const name = "Petra Vogelsang"
	r := staleRule()
	r.Name = "Stale issues, for " + name
	r.Actions = []workflow.RuleAction{workflow.Do("reply", workflow.Params{"message": name + " will look at it"})}
	rule, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	old := newIssue(t, "Old", date("2020-01-01"))
	before := comment(t, old, "one")
	if err := process(t, app.engine, before, 1); err != nil {
		t.Fatal(err)
	}
	if run, ok := runOf(t, app.rules, rule.ID, before); !ok || !strings.Contains(run.RuleName, name) {
		t.Fatalf("the run before the erasure: %+v; want the rule's name (the engine has it cached now)", run)
	}

	p := activity.Person{Type: "users", ID: "77"}.WithValues(name)
	if err := testDB.Transaction(func(tx *gorm.DB) error {
		got, err := workflow.ErasePerson(ctx, tx, p)
		if err == nil && got["workflow_rules"] != 1 {
			t.Errorf("rules masked: %v, want 1", got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	after := comment(t, old, "two")
	if err := process(t, app.engine, after, 1); err != nil {
		t.Fatal(err)
	}
	run, ok := runOf(t, app.rules, rule.ID, after)
	if !ok || run.Status != workflow.RunDone {
		t.Fatalf("the run after the erasure: %+v", run)
	}
	if strings.Contains(run.RuleName, name) {
		t.Errorf("the run after the erasure names %q: %q; the engine kept the erased rule in its cache", name, run.RuleName)
	}
	if got := commentsOn(t, old); len(got) != 4 || strings.Contains(got[3], name) {
		t.Errorf("comments %q; the reply to the comment after the erasure must not name %q", got, name)
	}
	if _, err := app.rules.Update(ctx, "users:1", rule); !errors.Is(err, workflow.ErrConflict) {
		t.Errorf("saving the rule as read before the erasure: %v, want ErrConflict (it would write the name back)", err)
	}
}
