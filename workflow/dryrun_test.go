package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// A dry run evaluates an unsaved rule against the last events of its
// trigger action and runs nothing.
func TestDryRun(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	old := newIssue(t, "Old", date("2021-06-01"))
	young := newIssue(t, "Young", date("2023-06-01"))
	var evs []activity.Event
	for i := range 6 {
		issue := young
		if i%2 == 0 {
			issue = old
		}
		evs = append(evs, comment(t, issue, "comment"))
		record(t, issue, "labeled") // another action: not looked at
	}

	dr, err := app.rules.DryRun(ctx, staleRule(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if dr.Checked != 4 || dr.Matched != 2 || len(dr.Events) != 4 {
		t.Fatalf("dry run: checked %d, matched %d, events %d", dr.Checked, dr.Matched, len(dr.Events))
	}
	for i, item := range dr.Events {
		want := evs[len(evs)-1-i] // newest first
		if item.Event.ID != want.ID {
			t.Errorf("events[%d] is %s, want %s", i, item.Event.Ref(), want.Ref())
		}
		isOld := item.Event.SubjectID == itoa(old)
		if item.Matched != isOld {
			t.Errorf("events[%d] matched %v: %s", i, item.Matched, item.Explanation)
		}
		if isOld && item.Explanation != "conditions[0]: subject.created_at (2021-06-01) is lt 2022-01-01" {
			t.Errorf("explanation: %q", item.Explanation)
		}
	}

	// Scoped to one subject.
	r := staleRule()
	r.Scope = workflow.SubjectScope(itoa(young))
	dr, err = app.rules.DryRun(ctx, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if dr.Checked != 3 || dr.Matched != 0 || !strings.Contains(dr.Events[0].Explanation, "is not lt") {
		t.Errorf("scoped dry run: %+v", dr)
	}

	if _, err := app.rules.DryRun(ctx, workflow.Rule{Name: "x", Domain: "issue", TriggeredOn: "nope"}, 5); !errors.Is(err, workflow.ErrInvalidRule) {
		t.Errorf("invalid rule: %v", err)
	}
	if _, err := app.rules.DryRun(ctx, staleRule(), workflow.MaxDryRunEvents+1); !errors.Is(err, workflow.ErrInvalidRule) {
		t.Errorf("too many events: %v", err)
	}
	for _, table := range []string{"workflow_rules", "workflow_runs", "workflow_action_runs"} {
		if n := countRows(t, table); n != 0 {
			t.Errorf("a dry run wrote %d rows to %s", n, table)
		}
	}
	if got := commentsOn(t, old); len(got) != 3 {
		t.Errorf("a dry run ran the reply: %q", got)
	}

	// More events than a feed page holds: the dry run pages.
	busy := newIssue(t, "Busy", date("2020-01-01"))
	var last activity.Event
	for range activity.MaxPageSize + 10 {
		last = record(t, busy, "comment_added", activity.Extra{"body": "+1"})
	}
	dr, err = app.rules.DryRun(ctx, staleRule(), activity.MaxPageSize+5)
	if err != nil {
		t.Fatal(err)
	}
	if dr.Checked != activity.MaxPageSize+5 || dr.Matched != dr.Checked || dr.Events[0].Event.ID != last.ID {
		t.Errorf("paged dry run: checked %d, matched %d", dr.Checked, dr.Matched)
	}
	seen := map[int64]bool{}
	for _, item := range dr.Events {
		if seen[item.Event.ID] {
			t.Fatalf("%s checked twice", item.Event.Ref())
		}
		seen[item.Event.ID] = true
	}
}
