package batch

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// WantedOn is the usual Config.Wanted: at flush time it keeps the events
// the window's recipient still wants on channel under defaults (a mute of
// the action, the subject or the channel set while the window was open
// drops them; critical kinds always stay). One query per distinct
// (domain, action, subject) of the window.
func WantedOn(defaults *inbox.Defaults, channel string) WantedFunc {
	return func(ctx context.Context, db *gorm.DB, b *Batch) ([]activity.Event, error) {
		wanted := map[[3]string]bool{}
		out := b.Events[:0:0]
		for _, ev := range b.Events {
			k := [3]string{ev.Domain, ev.Action, ev.SubjectID}
			w, ok := wanted[k]
			if !ok {
				got, err := defaults.Wanted(ctx, db, channel, ev.Domain, ev.Action, ev.SubjectID, []string{b.Recipient})
				if err != nil {
					return nil, err
				}
				w = len(got) == 1
				wanted[k] = w
			}
			if w {
				out = append(out, ev)
			}
		}
		return out, nil
	}
}
