package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// recordEventAction is the built-in record_event: it records an event on
// the triggering event's subject, as the workflow actor, caused by the
// triggering event. Its extra holds the rule's id ("workflow_rule_id") and
// the optional note.
func recordEventAction() Action {
	return Action{
		Doc: "Record an event on the same subject, caused by the triggering event.",
		Params: ParamSchema{
			"action": {Type: String, Required: true, Doc: "the action to record, one of the domain's"},
			"note":   {Type: String, Doc: "a note kept in the event's extra"},
		},
		Check: func(_ context.Context, c CheckContext) []Problem {
			action := c.Params.String("action")
			if c.Domain.Supports(action) {
				// An action that declares its extra's shape must take the
				// extra this action records.
				if err := c.Domain.CheckExtra(action, activity.Extra{"workflow_rule_id": int64(1), "note": c.Params.String("note")}); err != nil {
					return []Problem{{Field: "action", Message: fmt.Sprintf("%s declares the shape of its extra, and record_event's (workflow_rule_id, note) does not fit it: %v", action, err)}}
				}
				return nil
			}
			actions := c.Domain.Actions()
			slices.Sort(actions)
			return []Problem{{Field: "action", Message: fmt.Sprintf("%q is not an action of domain %s%s; expected one of %s",
				action, c.Domain.Name(), didYouMean(action, actions), strings.Join(actions, ", "))}}
		},
		Run: func(ctx context.Context, ac ActionContext) (Result, error) {
			subject, err := ac.Subject()
			if err != nil {
				return Result{}, err
			}
			extra := activity.Extra{"workflow_rule_id": ac.Rule.ID}
			if note := ac.Params.String("note"); note != "" {
				extra["note"] = note
			}
			res, err := ac.Domain.RecordEvent(ctx, ac.Tx, subject, ac.Params.String("action"), extra)
			if err != nil {
				return Result{}, err
			}
			return Result{
				Summary: fmt.Sprintf("recorded %s", res.Event.Ref()),
				Data:    map[string]any{"event_id": res.Event.ID, "depth": res.Event.Depth},
			}, nil
		},
	}
}
