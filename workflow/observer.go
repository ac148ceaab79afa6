package workflow

import (
	"context"
	"errors"

	"github.com/tidingsdev/tidings/activity"
)

// Observer watches an engine: package observe's metrics and tracing
// implement it. Set them on EngineConfig.Observers.
type Observer interface {
	// RuleDecided is called for each rule the engine evaluated against
	// an event, with the verdict: RuleMatched, RuleNotMatched or
	// RuleFailed (its facts could not be read, or it cannot run).
	RuleDecided(ev activity.Event, rule Rule, verdict RuleVerdict)
	// ActionStart is called before action index of rule runs for ev. The
	// context it returns is the action's (a tracer puts its span there,
	// so what the action records continues the trace); end is called
	// with the action's outcome.
	ActionStart(ctx context.Context, ev activity.Event, rule Rule, index int, typ string) (_ context.Context, end func(ActionOutcome))
}

// RuleVerdict is a rule's verdict on one event, as observers see it.
type RuleVerdict string

// The verdicts.
const (
	RuleMatched    RuleVerdict = "matched"
	RuleNotMatched RuleVerdict = "no_match"
	RuleFailed     RuleVerdict = "failed"
)

// ActionOutcome is how one run of an action ended, as observers see it.
type ActionOutcome struct {
	Status ActionStatus // ActionDone (also when it ran before, or sent), ActionFailed or ActionStopped
	Err    error
}

func (e *Engine) observeRule(ev activity.Event, r Rule, v RuleVerdict) {
	for _, o := range e.observers {
		o.RuleDecided(ev, r, v)
	}
}

// observeAction starts the observers of one action run.
func (e *Engine) observeAction(ctx context.Context, ev activity.Event, r Rule, index int) (context.Context, func(error)) {
	if len(e.observers) == 0 {
		return ctx, func(error) {}
	}
	ends := make([]func(ActionOutcome), len(e.observers))
	for i, o := range e.observers {
		ctx, ends[i] = o.ActionStart(ctx, ev, r, index, r.Actions[index].Type)
	}
	return ctx, func(err error) {
		out := ActionOutcome{Status: ActionDone, Err: err}
		switch {
		case err == nil:
		case errors.Is(err, activity.ErrCausationDepth):
			out.Status = ActionStopped
		default:
			out.Status = ActionFailed
		}
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](out)
		}
	}
}

// observed is the verdict as observers see it.
func (v verdict) observed(c *compiled) RuleVerdict {
	switch {
	case v.err != nil, c.invalid != "":
		return RuleFailed
	case v.matched:
		return RuleMatched
	}
	return RuleNotMatched
}
