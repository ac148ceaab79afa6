package inbox

import (
	"context"

	"github.com/tidingsdev/tidings/activity"
)

// TrackBackfill is trackBackfill for tests: the inbox_pending row of a
// backfill's job of dom's event eventID to inbox name, as while it runs,
// and the function its attempt's end calls.
func (w *Worker) TrackBackfill(ctx context.Context, name string, dom *activity.Domain, eventID int64, action string) (untrack func(), err error) {
	return w.trackBackfill(ctx, name, payload{Domain: dom.Name(), EventID: eventID, Action: action, Backfill: true}, dom)
}
