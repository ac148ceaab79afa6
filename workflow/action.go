package workflow

import (
	"context"
	"fmt"
	"log/slog"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Action is a kind of thing a rule can do, registered by name in a
// Registry: the built-ins (record_event, notify, webhook, post_slack,
// send_email) and the app's own ("reply", "add_label", "close").
//
//	reg.Register("reply", workflow.Action{
//		Doc:    "Reply with a comment on the issue.",
//		Params: workflow.ParamSchema{"message": {Type: workflow.String, Required: true}},
//		Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
//			c := Comment{IssueID: ac.SubjectID(), Body: ac.Params.String("message")}
//			if err := ac.Tx.Create(&c).Error; err != nil {
//				return workflow.Result{}, err
//			}
//			_, err := Issues.RecordEvent(ctx, ac.Tx, c.IssueID, "comment_added", activity.Record(c))
//			return workflow.Result{Summary: fmt.Sprintf("replied with comment %d", c.ID)}, err
//		},
//	})
//
// An action runs at most once per (rule, event, action index), however
// often the engine's job is retried, in one of two ways:
//
//   - A database action (External false, the default) runs inside a
//     transaction, ActionContext.Tx, that also records that it ran. Write
//     every effect through Tx (RecordEvent included): the effects and the
//     record commit together or not at all, so the action happens exactly
//     once.
//   - An external action (External true: an HTTP call, a mail, a Slack
//     post) cannot share a transaction. Its run is claimed before Run and
//     marked after: a retry skips it once marked. If the process dies
//     between Run and the mark, it runs again after the claim timeout: at
//     least once. ActionContext.IdempotencyKey helps receivers drop such
//     repeats; SendOnce keeps per-recipient sends to one each.
type Action struct {
	// Doc says what the action does, for rule editors.
	Doc string
	// Params declares the action's parameters, checked when a rule is
	// saved.
	Params ParamSchema
	// Check, when set, checks parameters further when a rule is saved
	// (after Params passed): a URL's host, a label that must exist. It
	// returns problems whose Field is a parameter name ("url"); the rule's
	// problems name it in full ("actions[2].params.url").
	Check func(ctx context.Context, c CheckContext) []Problem
	// External marks an action whose effect is outside the database.
	External bool
	// Run does it. An error is recorded in the run log and retried with
	// the engine's job, unless inbox.Permanent; an error wrapping
	// activity.ErrCausationDepth stops the rule for good ("stopped:
	// causation depth limit").
	Run func(ctx context.Context, ac ActionContext) (Result, error)
}

// CheckContext is what Action.Check gets.
type CheckContext struct {
	Domain *activity.Domain // the rule's domain
	Rule   Rule             // the rule being saved
	Index  int              // the action's index in Rule.Actions
	Params Params           // the action's parameters, already checked against its ParamSchema
}

// Result is what an action did, for the run log.
type Result struct {
	// Summary says it in a line: "replied with comment 17",
	// "POST https://example.com/… answered 200".
	Summary string `json:"summary,omitempty"`
	// Data holds details worth keeping (ids, status codes). It must
	// encode as JSON.
	Data map[string]any `json:"data,omitempty"`
}

// ActionContext is what an action's Run gets.
//
// The ctx passed with it carries the event being handled as the cause
// (activity.WithCause: events recorded through it carry the event's id as
// causation and the next depth), the workflow actor (activity.WithActor:
// System("workflow"), labelled with the rule's name) and the metadata
// source "workflow", which keeps rules that do not allow workflow triggers
// from reacting to what actions record.
type ActionContext struct {
	// Rule is the rule whose action runs.
	Rule Rule
	// Index is the action's index in Rule.Actions.
	Index int
	// Event is the event that triggered the rule.
	Event activity.Event
	// Domain is the event's domain, to record events on the same subject.
	Domain *activity.Domain
	// Params are the action's parameters, checked when the rule was saved.
	Params Params
	// Tx is the transaction of a database action: write every effect
	// through it. nil for an external action.
	Tx *gorm.DB
	// DB is the database pool, for reads (and for external actions'
	// bookkeeping).
	DB *gorm.DB
	// Attempt counts this action's runs for this event, from 1.
	Attempt int
	// IdempotencyKey is the same on every run of this action for this
	// event ("tidings-workflow-issue-1234-r7-a1"): pass it to receivers that
	// drop repeats.
	IdempotencyKey string
	// Logger carries the rule, the event and the action.
	Logger *slog.Logger

	engineName string
	ledger     *inbox.Ledger
	answered   func(sink string) // inbox.Delivery.Answered of the engine's attempt
}

// SubjectID returns the triggering event's subject key, as events store it.
func (ac ActionContext) SubjectID() string { return ac.Event.SubjectID }

// Subject returns the triggering event's subject key as RecordEvent takes
// it for the domain's key type (an int64 for bigint keys, the string
// otherwise), to record an event on the same subject.
func (ac ActionContext) Subject() (any, error) { return subjectValue(ac.Domain, ac.Event.SubjectID) }

// SendOnce applies an external effect for one recipient of an external
// action at most once per successful send (see inbox.Ledger.Send): a retry
// of the action skips the recipients already sent to, so a mail to three
// people that failed on the third does not mail the first two again.
func (ac ActionContext) SendOnce(ctx context.Context, recipient string, send func(ctx context.Context) error) (bool, error) {
	if ac.ledger == nil || ac.DB == nil {
		return true, send(ctx)
	}
	key := inbox.Key{Inbox: ac.engineName, Event: ac.Event.Ref(), Recipient: fmt.Sprintf("rule:%d/action:%d/%s", ac.Rule.ID, ac.Index, recipient)}
	return ac.ledger.Send(ctx, ac.DB, key, send)
}
