package workflow

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchRules compiles n rules whose conditions need no resolver: what the
// engine evaluates for one event when n rules trigger on its action. The
// mix has ten shapes (equality, ranges, lists, times, changes, groups; one
// in ten uses matches). With allRegex every rule also runs a pattern: the
// worst case, as a regular expression costs about a microsecond on a short
// string, ten times the rest of a rule.
func benchRules(tb testing.TB, f *fixture, n int, allRegex bool) []*Matcher {
	tb.Helper()
	rules := make([]*Matcher, n)
	for i := range rules {
		var conds Conditions
		switch i % 10 {
		case 0:
			conds = Conditions{Cond("extra.count", OpGt, i%50), Cond("extra.body", OpContains, fmt.Sprintf("word%d", i%20))}
		case 1:
			conds = Conditions{Cond("actor.type", OpEq, "users"), Cond("extra.body", OpMatches, fmt.Sprintf(`(?i)\bword%d\b`, i%20))}
		case 2:
			conds = Conditions{Cond("extra.due_at", OpOlderThan, fmt.Sprintf("%dd", 1+i%60)), Cond("extra.tags", OpContains, "db")}
		case 3:
			conds = Conditions{AnyOf(Cond("extra.urgent", OpEq, true), Cond("extra.count", OpIn, []int{i % 7, i % 11, i % 13})), Cond("extra.status", OpChangedTo, "closed")}
		case 4:
			conds = Conditions{Cond("action", OpEq, "comment_added"), Cond("extra.meta.score", OpLte, float64(i%10)/10), Cond("depth", OpLt, 3)}
		case 5:
			conds = Conditions{Cond("actor", OpIn, []string{"users:3", "users:4", fmt.Sprintf("users:%d", i)}), Cond("extra.status.from", OpEq, "open")}
		case 6:
			conds = Conditions{Cond("extra.body", OpStartsWith, "This"), Cond("occurred_at", OpGt, "2024-01-01"), Cond("extra.count", OpNe, i%30)}
		case 7:
			conds = Conditions{Cond("record", OpNotExists, nil), Cond("extra.tags", OpContains, fmt.Sprintf("t%d", i%5))}
		case 8:
			conds = Conditions{AnyOf(Cond("actor.id", OpEq, "3"), AllOf(Cond("extra.urgent", OpEq, false), Cond("extra.count", OpGte, i%40)))}
		case 9:
			conds = Conditions{Cond("extra.due_at", OpNewerThan, "90d"), Cond("source", OpNotExists, nil), Cond("extra.body", OpNotIn, []string{"+1", "me too"})}
		}
		if allRegex && i%10 != 1 {
			conds = append(conds, Cond("extra.body", OpMatches, fmt.Sprintf(`(?i)\bword%d\b`, i%20)))
		}
		m, err := f.schema.Compile(conds)
		if err != nil {
			tb.Fatal(err)
		}
		if m.NeedsResolver() {
			tb.Fatalf("rule %d needs a resolver", i)
		}
		rules[i] = m
	}
	return rules
}

func benchEvent() map[string]any {
	return map[string]any{
		"body":   "This is word7 of a comment that says word12 as well",
		"status": map[string]any{"from": "open", "to": "closed"},
		"count":  23,
		"due_at": "2024-05-01T00:00:00Z",
		"urgent": false,
		"tags":   []string{"ops", "db"},
		"meta":   map[string]any{"score": 0.4},
	}
}

// BenchmarkEvaluate1000Rules measures the cost, per event, of evaluating
// 1,000 rules whose conditions need no resolver: decoding the event's extra
// once and evaluating every rule. It reports the p99 of that per-event cost
// (target: well under 1 ms). The all-regex case adds a pattern to every
// rule, the worst case.
func BenchmarkEvaluate1000Rules(b *testing.B) {
	for _, c := range []struct {
		name     string
		allRegex bool
	}{{"mixed", false}, {"all-regex", true}} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b)
			rules := benchRules(b, f, 1000, c.allRegex)
			ev := event("1", benchEvent())
			ctx := context.Background()
			durations := make([]time.Duration, 0, 1024)
			matched := 0
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				facts := f.schema.NewFacts(ev)
				matched = 0
				for _, m := range rules {
					res, err := m.Evaluate(ctx, facts)
					if err != nil {
						b.Fatal(err)
					}
					if res.Matched {
						matched++
					}
				}
				durations = append(durations, time.Since(start))
			}
			if matched == 0 || matched == len(rules) {
				b.Fatalf("%d of %d rules matched; the benchmark should exercise both outcomes", matched, len(rules))
			}
			slices.Sort(durations)
			b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns/event")
			b.ReportMetric(float64(matched), "matched/event")
		})
	}
}
