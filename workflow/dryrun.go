package workflow

import (
	"context"
	"fmt"

	"github.com/tidingsdev/tidings/activity"
)

// Dry run limits.
const (
	DefaultDryRunEvents = 50
	MaxDryRunEvents     = 1000
)

// DryRun is what a rule would have done to recent events.
type DryRun struct {
	Rule    Rule          // the rule as checked (normalised)
	Checked int           // events looked at
	Matched int           // events the rule would have acted on
	Events  []DryRunEvent // newest first
}

// DryRunEvent is a rule's verdict on one event.
type DryRunEvent struct {
	Event       activity.Event
	Matched     bool
	Explanation string
	// Error is set when the conditions could not be read (a resolver
	// failed): the verdict is unknown.
	Error string
}

// DryRun evaluates a rule, saved (from Get) or not, against the last n
// events of its trigger action in its domain (within its scope), newest
// first, and reports which it would have matched and why. It runs no
// action and writes nothing. n is 1 to MaxDryRunEvents; 0 means
// DefaultDryRunEvents. An invalid rule is refused with a *ValidationError,
// as Create would.
//
// Conditions on subject.<field> and record.<field> read the objects as
// they are now, not as they were when each event happened: a dry run says
// what the rule would do to those events today.
func (s *Rules) DryRun(ctx context.Context, r Rule, n int) (DryRun, error) {
	switch {
	case n == 0:
		n = DefaultDryRunEvents
	case n < 0 || n > MaxDryRunEvents:
		return DryRun{}, &ValidationError{Problems: []Problem{{Field: "n", Message: fmt.Sprintf("is %d; allowed: 1 to %d (0 means %d)", n, MaxDryRunEvents, DefaultDryRunEvents)}}}
	}
	r, err := s.check(ctx, r)
	if err != nil {
		return DryRun{}, err
	}
	schema := s.schemas[r.Domain]
	cr := s.compileRule(r)
	out := DryRun{Rule: r}
	q := activity.FeedQuery{Actions: []string{r.TriggeredOn}, Limit: min(n, activity.MaxPageSize)}
	if r.Scope.Kind == ScopeSubject {
		subject, err := subjectValue(schema.Domain(), r.Scope.ID)
		if err != nil {
			return DryRun{}, err
		}
		q.Subject = subject
	}
	eng := &Engine{rules: s}
	for out.Checked < n {
		page, err := schema.Domain().Feed(ctx, s.db, q)
		if err != nil {
			return DryRun{}, err
		}
		for _, ev := range page.Events() {
			if out.Checked == n {
				break
			}
			out.Checked++
			item := DryRunEvent{Event: ev}
			if r.Scope.Kind == ScopeTenant {
				t, err := eng.tenantOf(s.db, ev)(ctx)
				if err != nil {
					item.Error = err.Error()
					out.Events = append(out.Events, item)
					continue
				}
				if t != r.Scope.ID {
					item.Explanation = fmt.Sprintf("out of scope: the event's tenant is %s, not %s", quote(t), quote(r.Scope.ID))
					out.Events = append(out.Events, item)
					continue
				}
			}
			v := eng.verdict(ctx, cr, ev, schema.NewFacts(ev))
			item.Matched, item.Explanation = v.matched, v.explain()
			if v.err != nil {
				item.Error = v.err.Error()
			}
			if item.Matched {
				out.Matched++
			}
			out.Events = append(out.Events, item)
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
		q.Limit = min(n-out.Checked, activity.MaxPageSize)
	}
	return out, nil
}
