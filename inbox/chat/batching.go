package chat

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// BatchingConfig makes an Inbox post one message per window per (webhook,
// subject) instead of one per event (see Config.Batching).
//
// The window opens on the subject's first event and closes on Schedule;
// the message posted then lists every event of the window ("3 updates",
// a line each), in the target's language. The channel sees nothing while
// the window is open. A flusher that dies after the webhook accepted the
// message and before the window was marked sent makes the next flusher
// post it again after FlushClaimTimeout.
type BatchingConfig struct {
	// DB holds the windows (batch_windows, batch_items). Required.
	DB *gorm.DB
	// Schedule closes each window. Default a fixed 10-minute window.
	Schedule inbox.Schedule
	// Location is the clock of local-time schedules. Default UTC.
	Location *time.Location
	// MaxItems posts a window early when it holds this many events.
	// Default 100.
	MaxItems int
	// Scheduler flushes each window at its due time (serve with
	// batch.Handler(in.Batcher())). Default nil: call Flush or
	// Batcher().Run.
	Scheduler batch.Scheduler
	// FlushClaimTimeout: see batch.Config.ClaimTimeout. Default 5 minutes.
	FlushClaimTimeout time.Duration
	// Now is the windows' clock. Default time.Now.
	Now func() time.Time
}

func (in *Inbox) newBatcher() error {
	bc := in.cfg.Batching
	if bc.DB == nil {
		return &inbox.ConfigError{Field: "chat.Config.Batching.DB", Reason: "is nil: windows live in PostgreSQL"}
	}
	if bc.Schedule == (inbox.Schedule{}) {
		bc.Schedule = inbox.FixedWindow(10 * time.Minute)
	}
	if err := bc.Schedule.Check(); err != nil {
		return err
	}
	b, err := batch.New(batch.Config{Inbox: in.cfg.Name, DB: bc.DB, Deliver: in.deliverBatch, MaxItems: bc.MaxItems,
		Scheduler: bc.Scheduler, ClaimTimeout: bc.FlushClaimTimeout, Now: bc.Now})
	if err != nil {
		return err
	}
	in.batcher = b
	return nil
}

// Flush posts the windows due at now; see batch.Batcher.Flush.
func (in *Inbox) Flush(ctx context.Context, now time.Time) (batch.Result, error) {
	if in.batcher == nil {
		return batch.Result{}, nil
	}
	return in.batcher.Flush(ctx, now)
}

// processBatching puts the event into its (webhook, subject) window, once.
// The window's recipient is the webhook's TargetKey, never its URL.
func (in *Inbox) processBatching(ctx context.Context, d *inbox.Delivery, target Target) error {
	bc := in.cfg.Batching
	var joined batch.Joined
	_, err := d.Once(ctx, d.DB, "", func(tx *gorm.DB) error {
		var err error
		joined, err = in.batcher.Add(ctx, tx, batch.AddRequest{Recipient: TargetKey(target.URL), Key: d.Event.Domain + "/" + d.Event.SubjectID,
			Schedule: bc.Schedule, Location: bc.Location, Locale: in.locale(target), Event: d.Event})
		return err
	})
	if err != nil {
		return fmt.Errorf("%s inbox %s: batch %s: %w", in.cfg.Provider.Name(), in.cfg.Name, d.Event.Ref(), err)
	}
	if joined.Window != 0 {
		in.batcher.Scheduled(ctx, joined)
	}
	return nil
}

// deliverBatch posts a closed window to the webhook its events route to
// now (the route of its first event).
func (in *Inbox) deliverBatch(ctx context.Context, b *batch.Batch) error {
	if len(b.Events) == 0 {
		return nil
	}
	target, ok := in.cfg.Router.Route(b.Events[0])
	if !ok {
		return nil // no longer routed: nobody to tell
	}
	msg := RenderBatch(in.cfg.Catalog, b.Locale, b.Events)
	return in.post(ctx, in.cfg.Batching.DB, target.URL, msg)
}
