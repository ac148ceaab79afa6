package inbox

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Recipients narrows the people an app says should hear of ev on channel:
// it drops empty keys, duplicates (keeping the first), the event's actor
// (an actor of recipientType whose ID is the key: nobody is told of their
// own act) and those who muted ev's action or its subject on channel (see
// Defaults.Wanted; with the app's Defaults, use Defaults.Recipients). Every
// channel inbox (in-app, email, Slack) filters its recipients with it.
func Recipients(ctx context.Context, db *gorm.DB, channel string, ev activity.Event, recipientType string, ids []string) ([]string, error) {
	return (*Defaults)(nil).Recipients(ctx, db, channel, ev, recipientType, ids)
}
