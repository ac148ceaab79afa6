package workflow

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tidingsdev/tidings/activity"
)

func TestEvaluateOperators(t *testing.T) {
	f := newFixture(t)
	extra := map[string]any{
		"body":   "Still broken after the update",
		"status": map[string]any{"from": "open", "to": "closed"},
		"count":  12,
		"due_at": "2024-05-01T00:00:00Z",
		"urgent": true,
		"tags":   []string{"ops", "db"},
		"meta":   map[string]any{"score": 0.5},
	}
	old := event("1", extra)                          // subject 1: created 2021-03-04, labels bug, p1
	fresh := event("2", map[string]any{"body": "hi"}) // subject 2: created 2023-05-01, closed
	created := event("1", map[string]any{"status": map[string]any{"to": "open"}})
	reopened := event("1", map[string]any{"status": map[string]any{"from": "closed", "to": "closed"}})
	commented := withRecord(old, "comments", "10")
	cases := []struct {
		cond Condition
		ev   activity.Event
		want bool
		expl string // the explanation, exactly
	}{
		{Cond("action", OpEq, "comment_added"), old, true, `conditions[0]: action ("comment_added") is eq "comment_added"`},
		{Cond("action", OpNe, "comment_added"), old, false, `conditions[0]: action ("comment_added") is not ne "comment_added"`},
		{Cond("action", OpIn, []string{"closed", "comment_added"}), old, true, `conditions[0]: action ("comment_added") is in ["closed", "comment_added"]`},
		{Cond("action", OpNotIn, []string{"closed", "comment_added"}), old, false, `conditions[0]: action ("comment_added") is not not_in ["closed", "comment_added"]`},
		{Cond("actor", OpEq, "users:3"), old, true, `conditions[0]: actor ("users:3") is eq "users:3"`},
		{Cond("actor.type", OpStartsWith, "user"), old, true, `conditions[0]: actor.type ("users") starts with "user"`},
		{Cond("actor.label", OpEq, "Ana"), old, true, ``},
		{Cond("subject.id", OpEq, "1"), old, true, ``},
		{Cond("occurred_at", OpGte, "2024-06-01T12:00:00Z"), old, true, `conditions[0]: occurred_at (2024-06-01T12:00:00Z) is gte 2024-06-01T12:00:00Z`},
		{Cond("occurred_at", OpEq, "2024-06-01T14:00:00+02:00"), old, true, ``},
		{Cond("depth", OpLt, 1), old, true, `conditions[0]: depth (0) is lt 1`},
		{Cond("source", OpNotExists, nil), old, true, `conditions[0]: source is absent`},
		{Cond("record", OpNotExists, nil), old, true, ``},
		{Cond("record.type", OpEq, "comments"), old, false, `conditions[0]: record.type is absent, so it is not eq "comments"`},
		{Cond("record", OpEq, "comments:10"), commented, true, ``},
		{Cond("record.label", OpExists, nil), commented, true, `conditions[0]: record.label ("comments 10") exists`},

		// extra
		{Cond("extra.body", OpContains, "broken"), old, true, `conditions[0]: extra.body ("Still broken after the update") contains "broken"`},
		{Cond("extra.body", OpContains, "fixed"), old, false, `conditions[0]: extra.body ("Still broken after the update") does not contain "fixed"`},
		{Cond("extra.body", OpMatches, `(?i)^still\b`), old, true, `conditions[0]: extra.body ("Still broken after the update") matches /(?i)^still\b/`},
		{Cond("extra.body", OpMatches, `^fixed`), old, false, `conditions[0]: extra.body ("Still broken after the update") does not match /^fixed/`},
		{Cond("extra.body", OpStartsWith, "Nope"), old, false, `conditions[0]: extra.body ("Still broken after the update") does not start with "Nope"`},
		{Cond("extra.body", OpLt, "T"), old, true, ``},
		{Cond("extra.count", OpGt, 10), old, true, `conditions[0]: extra.count (12) is gt 10`},
		{Cond("extra.count", OpLte, 11.5), old, false, `conditions[0]: extra.count (12) is not lte 11.5`},
		{Cond("extra.count", OpIn, []int{1, 12}), old, true, `conditions[0]: extra.count (12) is in [1, 12]`},
		{Cond("extra.count", OpNotIn, []int{1, 2}), old, true, ``},
		{Cond("extra.count", OpEq, 12), fresh, false, `conditions[0]: extra.count is absent, so it is not eq 12`},
		{Cond("extra.count", OpNe, 12), fresh, false, `conditions[0]: extra.count is absent, so it is not ne 12`},
		{Cond("extra.count", OpNotIn, []int{12}), fresh, false, ``},
		{Cond("extra.count", OpNotExists, nil), fresh, true, `conditions[0]: extra.count is absent`},
		{Cond("extra.due_at", OpLt, "2024-06-01"), old, true, `conditions[0]: extra.due_at (2024-05-01) is lt 2024-06-01`},
		{Cond("extra.due_at", OpOlderThan, "30d"), old, true, `conditions[0]: extra.due_at (2024-05-01) is older_than 30d (before 2024-05-02T12:00:00Z)`},
		{Cond("extra.due_at", OpOlderThan, "32d"), old, false, `conditions[0]: extra.due_at (2024-05-01) is not older_than 32d (before 2024-04-30T12:00:00Z)`},
		{Cond("extra.due_at", OpNewerThan, "32d"), old, true, `conditions[0]: extra.due_at (2024-05-01) is newer_than 32d (after 2024-04-30T12:00:00Z)`},
		{Cond("extra.urgent", OpEq, true), old, true, `conditions[0]: extra.urgent (true) is eq true`},
		{Cond("extra.urgent", OpNe, true), old, false, ``},
		{Cond("extra.tags", OpContains, "db"), old, true, `conditions[0]: extra.tags (["ops", "db"]) contains "db"`},
		{Cond("extra.tags", OpContains, "web"), old, false, ``},
		{Cond("extra.meta.score", OpLt, 1), old, true, `conditions[0]: extra.meta.score (0.5) is lt 1`},

		// changes: {"status": {"from": ..., "to": ...}}
		{Cond("extra.status", OpChangedTo, "closed"), old, true, `conditions[0]: extra.status (from "open" to "closed") changed to "closed"`},
		{Cond("extra.status", OpChangedFrom, "open"), old, true, `conditions[0]: extra.status (from "open" to "closed") changed from "open"`},
		{Cond("extra.status", OpChangedFrom, "closed"), old, false, `conditions[0]: extra.status (from "open" to "closed") did not change from "closed"`},
		{Cond("extra.status", OpChangedTo, "open"), old, false, ``},
		{Cond("extra.status", OpChangedTo, "open"), created, true, `conditions[0]: extra.status (from absent to "open") changed to "open"`},
		{Cond("extra.status", OpChangedFrom, "open"), created, false, ``},
		{Cond("extra.status", OpChangedTo, "closed"), reopened, false, `conditions[0]: extra.status (from "closed" to "closed") did not change to "closed"`},
		{Cond("extra.status", OpChangedFrom, "closed"), reopened, false, ``},
		{Cond("extra.status.to", OpEq, "closed"), old, true, ``},
		{Cond("extra.status", OpChangedTo, "closed"), fresh, false, `conditions[0]: extra.status is absent, so it is not changed_to "closed"`},

		// subject fields through the resolver
		{Cond("subject.created_at", OpLt, "2022-01-01"), old, true, `conditions[0]: subject.created_at (2021-03-04) is lt 2022-01-01`},
		{Cond("subject.created_at", OpLt, "2022-01-01"), fresh, false, `conditions[0]: subject.created_at (2023-05-01) is not lt 2022-01-01`},
		{Cond("subject.created_at", OpOlderThan, "365d"), old, true, `conditions[0]: subject.created_at (2021-03-04) is older_than 365d (before 2023-06-02T12:00:00Z)`},
		{Cond("subject.created_at", OpOlderThan, "8760h"), fresh, true, ``},
		{Cond("subject.created_at", OpNewerThan, "400d"), fresh, true, ``},
		{Cond("subject.labels", OpContains, "p1"), old, true, `conditions[0]: subject.labels (["bug", "p1"]) contains "p1"`},
		{Cond("subject.labels", OpContains, "feature"), fresh, true, ``},
		{Cond("subject.closed", OpEq, false), old, true, `conditions[0]: subject.closed (false) is eq false`},
		{Cond("subject.priority", OpGte, 2), old, true, `conditions[0]: subject.priority (2) is gte 2`},
		{Cond("subject.priority", OpGt, 7), fresh, true, `conditions[0]: subject.priority (7.5) is gt 7`},
		{Cond("subject.owner.email", OpEq, "ana@example.com"), old, true, `conditions[0]: subject.owner.email ("ana@example.com") is eq "ana@example.com"`},
		{Cond("subject.owner.email", OpExists, nil), fresh, false, `conditions[0]: subject.owner.email is absent`},
		{Cond("subject.closed_at", OpNotExists, nil), old, true, `conditions[0]: subject.closed_at is absent`},
		{Cond("subject.closed_at", OpExists, nil), fresh, true, `conditions[0]: subject.closed_at (2021-03-04) exists`},
		{Cond("subject.title", OpExists, nil), event("404", nil), false, `conditions[0]: subject.title is absent`},
		{Cond("subject.created_at", OpLt, "2022-01-01"), event("3", nil), false, `conditions[0]: subject.created_at has 42 (a number), not a time, so it is not lt 2022-01-01`},
		{Cond("subject.created_at", OpExists, nil), event("3", nil), true, ``},

		// record fields through the comments resolver
		{Cond("record.body", OpContains, "broken"), commented, true, `conditions[0]: record.body ("This is still broken") contains "broken"`},
		{Cond("record.length", OpGt, 10), commented, true, ``},
		{Cond("record.body", OpExists, nil), old, false, `conditions[0]: record.body is absent`},
		{Cond("record.body", OpExists, nil), withRecord(old, "users", "3"), false, ``},
	}
	for _, c := range cases {
		name := c.cond.Attribute + " " + string(c.cond.Operator)
		t.Run(name, func(t *testing.T) {
			m := f.mustCompile(t, c.cond)
			res, err := m.Evaluate(context.Background(), f.schema.NewFacts(c.ev))
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != c.want {
				t.Errorf("matched = %v, want %v (%s)", res.Matched, c.want, res.Explanation())
			}
			if c.expl != "" && res.Explanation() != c.expl {
				t.Errorf("explanation\n got %s\nwant %s", res.Explanation(), c.expl)
			}
		})
	}
}

func TestEvaluateGroups(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ev := event("1", map[string]any{"body": "ping", "count": 3})
	eval := func(conds ...Condition) Evaluation {
		t.Helper()
		res, err := f.mustCompile(t, conds...).Evaluate(ctx, f.schema.NewFacts(ev))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := eval()
	if !res.Matched || res.Explanation() != "no conditions: every event matches" {
		t.Errorf("no conditions: %v %q", res.Matched, res.Explanation())
	}

	res = eval(Cond("extra.body", OpEq, "ping"), Cond("extra.count", OpGt, 5), Cond("extra.count", OpLt, 1))
	if res.Matched {
		t.Error("all_of with a failing member matched")
	}
	if want := `conditions[1]: extra.count (3) is not gt 5`; res.Explanation() != want {
		t.Errorf("explanation %q, want %q", res.Explanation(), want)
	}

	res = eval(Cond("extra.body", OpEq, "ping"), Cond("extra.count", OpLt, 5))
	if want := `conditions[0]: extra.body ("ping") is eq "ping"; conditions[1]: extra.count (3) is lt 5`; !res.Matched || res.Explanation() != want {
		t.Errorf("matched %v, explanation %q, want %q", res.Matched, res.Explanation(), want)
	}

	res = eval(AnyOf(Cond("extra.body", OpEq, "pong"), Cond("extra.count", OpEq, 3), Cond("extra.count", OpEq, 4)))
	if want := `conditions[0].any_of[1]: extra.count (3) is eq 3`; !res.Matched || res.Explanation() != want {
		t.Errorf("matched %v, explanation %q, want %q", res.Matched, res.Explanation(), want)
	}

	res = eval(Cond("action", OpEq, "comment_added"), AnyOf(Cond("extra.body", OpEq, "pong"), AllOf(Cond("extra.count", OpGt, 1), Cond("extra.count", OpGt, 9))))
	want := `conditions[1]: no condition of any_of holds (conditions[1].any_of[0]: extra.body ("ping") is not eq "pong"; conditions[1].any_of[1].all_of[1]: extra.count (3) is not gt 9)`
	if res.Matched || res.Explanation() != want {
		t.Errorf("matched %v, explanation\n got %s\nwant %s", res.Matched, res.Explanation(), want)
	}

	// Reordering (cheap first) does not change the explained order.
	res = eval(AnyOf(Cond("subject.title", OpEq, "nope"), Cond("extra.body", OpEq, "pong")))
	want = `conditions[0]: no condition of any_of holds (conditions[0].any_of[0]: subject.title ("Crash on start") is not eq "nope"; conditions[0].any_of[1]: extra.body ("ping") is not eq "pong")`
	if res.Matched || res.Explanation() != want {
		t.Errorf("matched %v, explanation\n got %s\nwant %s", res.Matched, res.Explanation(), want)
	}
}

// The classic rule: a comment on an issue created before 2022 matches.
func TestEvaluateStaleIssueRule(t *testing.T) {
	f := newFixture(t)
	m := f.mustCompile(t, Cond("subject.created_at", OpLt, "2022-01-01"))
	for subject, want := range map[string]bool{"1": true, "2": false} {
		res, err := m.Evaluate(context.Background(), f.schema.NewFacts(event(subject, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Matched != want {
			t.Errorf("issue %s: matched = %v, want %v: %s", subject, res.Matched, want, res.Explanation())
		}
	}
}

func TestResolverCalledLazilyAndOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rules := []*Matcher{
		// Fails on the event alone: the resolver must not be called, even
		// though the subject condition comes first.
		f.mustCompile(t, Cond("subject.created_at", OpLt, "2022-01-01"), Cond("action", OpEq, "closed")),
		f.mustCompile(t, Cond("subject.created_at", OpLt, "2022-01-01")),
		f.mustCompile(t, Cond("subject.title", OpExists, nil), Cond("subject.labels", OpContains, "bug")),
		f.mustCompile(t, AnyOf(Cond("subject.closed", OpEq, true), Cond("record.body", OpExists, nil))),
		f.mustCompile(t, Cond("extra.body", OpExists, nil)),
	}
	if rules[0].NeedsResolver() != true || rules[4].NeedsResolver() != false {
		t.Error("NeedsResolver wrong")
	}

	facts := f.schema.NewFacts(event("1", map[string]any{"body": "x"}))
	res, err := rules[0].Evaluate(ctx, facts)
	if err != nil || res.Matched {
		t.Fatalf("rule 0: %v %v", res.Matched, err)
	}
	if n := f.issues.total(); n != 0 {
		t.Fatalf("subject resolver called %d times for a rule that fails on the event alone", n)
	}
	if want := `conditions[1]: action ("comment_added") is not eq "closed"`; res.Explanation() != want {
		t.Errorf("explanation %q, want %q", res.Explanation(), want)
	}
	for i, m := range rules {
		res, err := m.Evaluate(ctx, facts)
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		_ = res.Explanation() // explaining reads nothing new
	}
	if n := f.issues.calls["1"]; n != 1 {
		t.Errorf("subject resolver called %d times for one event and %d rules; want once", n, len(rules))
	}
	if n := f.comments.total(); n != 0 {
		t.Errorf("comments resolver called %d times for an event without a record", n)
	}

	// A record of a declared type loads once; its subject loads once more
	// for the new event only.
	facts = f.schema.NewFacts(withRecord(event("1", nil), "comments", "10"))
	for range 3 {
		for _, m := range rules {
			if _, err := m.Evaluate(ctx, facts); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f.comments.calls["10"] != 1 || f.issues.calls["1"] != 2 {
		t.Errorf("calls: comments %v, issues %v; want comments 10 once, issue 1 twice (once per event)", f.comments.calls, f.issues.calls)
	}
}

func TestResolverErrorIsReturnedAndMemoized(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("connection refused")
	f.issues.err = boom
	m := f.mustCompile(t, Cond("subject.created_at", OpLt, "2022-01-01"))
	facts := f.schema.NewFacts(event("7", nil))
	for range 2 {
		_, err := m.Evaluate(context.Background(), facts)
		var re *ResolveError
		if !errors.As(err, &re) || !errors.Is(err, boom) {
			t.Fatalf("err = %v, want a *ResolveError wrapping the resolver's", err)
		}
		if re.Object != "subject" || re.ID != "7" || re.Domain != "issue" {
			t.Errorf("ResolveError = %+v", re)
		}
		if want := "workflow: resolve issue subject 7: connection refused"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	}
	if n := f.issues.total(); n != 1 {
		t.Errorf("failing resolver called %d times; want once per event", n)
	}

	// A rule decided without the resolver is not affected by its failure.
	cheap := f.mustCompile(t, AnyOf(Cond("action", OpEq, "comment_added"), Cond("subject.closed", OpEq, true)))
	if res, err := cheap.Evaluate(context.Background(), facts); err != nil || !res.Matched {
		t.Errorf("cheap any_of: %v %v", res.Matched, err)
	}

	// Record resolver errors name the record.
	f.comments.err = boom
	rm := f.mustCompile(t, Cond("record.body", OpExists, nil))
	_, err := rm.Evaluate(context.Background(), f.schema.NewFacts(withRecord(event("1", nil), "comments", "10")))
	if err == nil || err.Error() != "workflow: resolve issue record comments:10: connection refused" {
		t.Errorf("record resolver error = %v", err)
	}
}

func TestEvaluateBadExtra(t *testing.T) {
	f := newFixture(t)
	ev := event("1", nil)
	ev.Extra = []byte(`{"body": `)
	m := f.mustCompile(t, Cond("extra.body", OpExists, nil))
	if _, err := m.Evaluate(context.Background(), f.schema.NewFacts(ev)); err == nil || !strings.Contains(err.Error(), "decode extra") {
		t.Errorf("err = %v, want a decode error", err)
	}
	// Extra that is JSON but not an object.
	ev.Extra = []byte(`[1, 2]`)
	if _, err := m.Evaluate(context.Background(), f.schema.NewFacts(ev)); err == nil {
		t.Error("extra that is a list: no error")
	}
	// Empty extra: everything absent.
	ev.Extra = nil
	res, err := m.Evaluate(context.Background(), f.schema.NewFacts(ev))
	if err != nil || res.Matched {
		t.Errorf("empty extra: matched %v, err %v", res.Matched, err)
	}
}

func TestEvaluateForeignFacts(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	m := a.mustCompile(t)
	if _, err := m.Evaluate(context.Background(), b.schema.NewFacts(event("1", nil))); err == nil {
		t.Error("facts from another schema: no error")
	}
}

// A Matcher is shared by the engine's workers: evaluate it concurrently
// (run with -race).
func TestMatcherConcurrentUse(t *testing.T) {
	f := newFixture(t)
	m := f.mustCompile(t, Cond("subject.created_at", OpLt, "2022-01-01"), Cond("extra.body", OpMatches, "^b"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				subject := []string{"1", "2"}[i%2]
				res, err := m.Evaluate(context.Background(), f.schema.NewFacts(event(subject, map[string]any{"body": "broken"})))
				if err != nil {
					t.Error(err)
					return
				}
				if res.Matched != (subject == "1") {
					t.Errorf("subject %s matched %v", subject, res.Matched)
				}
				_ = res.Explanation()
			}
		})
	}
	wg.Wait()
}
