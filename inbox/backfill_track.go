package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
)

// backfillCheckAfter is when the relay's sweeper first looks at the
// inbox_pending row of a backfill's job whose worker died before deleting
// it (see trackBackfill).
const backfillCheckAfter = "1 minute"

// trackBackfill makes a backfill's job visible to an erasure while it
// runs: an inbox_pending row for its (event, inbox), inserted before the
// job loads its event and deleted (untrack) once the attempt is over.
// privacy.EraseSettled waits for the pending deliveries of the person's
// events and erases again after them; without the row, a backfill's job
// that loaded the person's event before the erasure wrote the old label
// (a notification, an archive row) after EraseSettled returned.
//
// The insert reads the event's row FOR SHARE: an erasure locks the
// person's events (FOR NO KEY UPDATE) before it lists the deliveries in
// flight, so either this row committed before that listing (and is
// waited for), or the insert waits for the erasure to commit and the job
// loads the erased event. A row already there (a live delivery's, or an
// earlier attempt's whose worker died) is left alone and not deleted: the
// completer or the relay's sweeper deletes it. A live delivery the relay
// hands out meanwhile takes the row over (its insert sets check_at), and
// untrack deletes the row only while it is still the one it inserted.
func (w *Worker) trackBackfill(ctx context.Context, name string, p payload, dom *activity.Domain) (untrack func(), err error) {
	queue, _ := asynq.GetQueueName(ctx)
	var inserted []time.Time
	err = w.db.WithContext(ctx).Raw(`INSERT INTO `+PendingTable+` (domain, event_id, inbox, action, queue, check_at)
SELECT ?, e.id, ?, ?, ?, now() + interval '`+backfillCheckAfter+`' FROM `+dom.Table()+` e WHERE e.id = ? FOR SHARE OF e
ON CONFLICT DO NOTHING RETURNING check_at`, p.Domain, name, p.Action, queue, p.EventID).Scan(&inserted).Error
	if err != nil {
		return nil, fmt.Errorf("inbox: track the backfill's job of %s for erasures: %w", p.ref(), err)
	}
	if len(inserted) == 0 {
		return func() {}, nil
	}
	return func() {
		if err := w.db.WithContext(context.WithoutCancel(ctx)).Exec(`DELETE FROM `+PendingTable+` WHERE domain = ? AND event_id = ? AND inbox = ? AND check_at = ?`,
			p.Domain, p.EventID, name, inserted[0]).Error; err != nil {
			w.log.LogAttrs(ctx, slog.LevelWarn, "inbox: cannot delete the inbox_pending row of a backfill's job; the relay's sweeper will",
				slog.String("inbox", name), slog.String("event", p.ref().String()), slog.Any("error", err))
		}
	}, nil
}
