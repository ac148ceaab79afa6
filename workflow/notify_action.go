package workflow

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// notifyAction is the built-in notify: it notifies the listed users in-app
// of the triggering event, through package inbox/notify (one notification
// per user and event; the event's actor and users who muted the action in
// the app are skipped, as for the notify inbox). A user notified of the
// event already, by the notify inbox or another rule, is not notified
// twice.
func notifyAction() Action {
	return Action{
		Doc: "Notify users in-app of the event.",
		Params: ParamSchema{
			"recipients": {Type: ListOf(String), Required: true, Doc: "the users' keys (user ids as text)"},
		},
		Check: func(_ context.Context, c CheckContext) []Problem {
			rs := c.Params.Strings("recipients")
			if len(rs) == 0 {
				return []Problem{{Field: "recipients", Message: "is empty: list the users to notify"}}
			}
			var ps []Problem
			for i, r := range rs {
				if r == "" || len(r) > 128 {
					ps = append(ps, Problem{Field: index("recipients", i), Message: "must be a user key of 1 to 128 bytes"})
				}
			}
			return ps
		},
		Run: func(ctx context.Context, ac ActionContext) (Result, error) {
			recipients := ac.Params.Strings("recipients")
			n, err := notify.New(notify.Config{
				Name: ac.engineName,
				Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
					return recipients, nil
				},
			})
			if err != nil {
				return Result{}, err
			}
			to, err := n.Recipients(ctx, ac.Tx, ac.Event)
			if err != nil {
				return Result{}, err
			}
			d := &inbox.Delivery{
				Inbox:  fmt.Sprintf("%s.rule%d.action%d", ac.engineName, ac.Rule.ID, ac.Index),
				Event:  ac.Event,
				DB:     ac.Tx,
				Ledger: ac.ledger,
				Logger: ac.Logger,
			}
			if err := n.Process(ctx, d); err != nil {
				return Result{}, err
			}
			return Result{Summary: fmt.Sprintf("notified %d of %d users", len(to), len(recipients)), Data: map[string]any{"notified": to}}, nil
		},
	}
}
