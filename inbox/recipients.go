package inbox

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Recipients narrows the people an app says should hear of ev on channel:
// it drops empty keys, duplicates (keeping the first), the event's actor
// (an actor of recipientType whose ID is the key: nobody is told of their
// own act) and those who muted ev's action on channel (see Unmuted). Every
// channel inbox (in-app, email, Slack) filters its recipients with it.
func Recipients(ctx context.Context, db *gorm.DB, channel string, ev activity.Event, recipientType string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, r := range ids {
		if r == "" || seen[r] || (ev.ActorType == recipientType && ev.ActorID == r) {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return Unmuted(ctx, db, channel, ev.Domain, ev.Action, out)
}
