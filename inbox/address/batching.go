package address

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// BatchingConfig makes an Inbox honour each recipient's delivery choice
// on its Channel (see Config.Batching): immediate, batched on a schedule
// (inbox.Defaults.SetChoice; the app's default in
// inbox.Defaults.Delivery), or off. A batched recipient's events gather
// in one window per person, closed on the schedule they chose; when it
// closes, each of their addresses (those they have then, less the
// suppressed) gets one message listing the window's events, at most once
// per address (a ledger row per window and address). Zero fields take
// the defaults.
type BatchingConfig struct {
	// DB holds the windows (batch_windows, batch_items) and the flush's
	// ledger rows. Required.
	DB *gorm.DB
	// MaxItems sends a window early when it holds this many events.
	// Default 100.
	MaxItems int
	// Scheduler flushes each window at its due time (serve its tasks with
	// batch.Handler(in.Batcher())). Default nil: call Flush or
	// Batcher().Run.
	Scheduler batch.Scheduler
	// FlushClaimTimeout: see batch.Config.ClaimTimeout. Default 5 minutes.
	FlushClaimTimeout time.Duration
	// Now is the windows' clock. Default time.Now.
	Now func() time.Time
}

func (in *Inbox[M]) newBatcher() error {
	bc := in.cfg.Batching
	if bc.DB == nil {
		return &inbox.ConfigError{Field: in.cfg.Package + ".Config.Batching.DB", Reason: "is nil: windows live in PostgreSQL"}
	}
	b, err := batch.New(batch.Config{Inbox: in.cfg.Name, DB: bc.DB, Deliver: in.deliverBatch, Wanted: batch.WantedOn(in.cfg.Defaults, in.cfg.Channel),
		MaxItems: bc.MaxItems, Scheduler: bc.Scheduler, ClaimTimeout: bc.FlushClaimTimeout, Logger: in.cfg.Logger, Now: bc.Now})
	if err != nil {
		return err
	}
	in.batcher = b
	in.ledger = inbox.NewLedger(inbox.LedgerConfig{})
	return nil
}

// Batcher returns the inbox's batching step (nil without Batching): for
// batch.Handler, and for its Run sweep.
func (in *Inbox[M]) Batcher() *batch.Batcher { return in.batcher }

// Flush sends the windows due at now; see batch.Batcher.Flush.
func (in *Inbox[M]) Flush(ctx context.Context, now time.Time) (batch.Result, error) {
	if in.batcher == nil {
		return batch.Result{}, nil
	}
	return in.batcher.Flush(ctx, now)
}

// processBatching puts the event into the window of each recipient who
// chose a batched delivery (choices: inbox.Defaults.Choices), once (in
// the ledger's transaction), and
// returns those who chose immediate delivery, and whether anyone's window
// took the event. Who chose off was left out by Recipients.
func (in *Inbox[M]) processBatching(ctx context.Context, d *inbox.Delivery, to []Recipient, choices map[string]inbox.Choice) ([]Recipient, bool, error) {
	ev := d.Event
	ids := make([]string, len(to))
	byID := make(map[string]Recipient, len(to))
	for i, r := range to {
		ids[i], byID[r.ID] = r.ID, r
	}
	var now []Recipient
	var batched []string
	for _, id := range ids {
		switch choices[id].Mode {
		case inbox.Batched:
			batched = append(batched, id)
		case inbox.Immediate:
			now = append(now, byID[id])
		}
	}
	if len(batched) > 0 {
		var joined []batch.Joined
		_, err := d.OnceEach(ctx, d.DB, batched, func(tx *gorm.DB, fresh []string) error {
			joined = joined[:0]
			for _, id := range fresh {
				r := byID[id]
				j, err := in.batcher.Add(ctx, tx, batch.AddRequest{Recipient: id, Schedule: choices[id].Schedule, Location: r.Location,
					Locale: in.locale(r.Locale), Event: ev, Tenant: ev.TenantID})
				if err != nil {
					return err
				}
				joined = append(joined, j)
			}
			return nil
		})
		if err != nil {
			return nil, false, fmt.Errorf("%s inbox %s: batch %s: %w", in.cfg.Package, in.cfg.Name, ev.Ref(), err)
		}
		in.batcher.Scheduled(ctx, joined...)
	}
	return now, len(batched) > 0, nil
}

// deliverBatch sends one closed window to each address its recipient has
// now, each at most once (a ledger row per window and address, keyed by
// the window's first event).
func (in *Inbox[M]) deliverBatch(ctx context.Context, b *batch.Batch) error {
	if len(b.Events) == 0 {
		return nil
	}
	if b.Tenant != "" {
		ctx = activity.WithTenant(ctx, b.Tenant)
	}
	db := in.cfg.Batching.DB
	addrs, err := in.reachable(ctx, db, []string{b.Recipient})
	if err != nil {
		return err
	}
	if len(addrs[b.Recipient]) == 0 {
		return nil // no address any more: nobody to tell
	}
	m, err := in.cfg.Sender.RenderBatch(b.Locale, b.Events)
	if err != nil {
		return inbox.Permanent(err)
	}
	sends := make([]send[M], len(addrs[b.Recipient]))
	for i, a := range addrs[b.Recipient] {
		sends[i] = send[M]{key: Key(b.Recipient, a.Address) + "/w" + strconv.FormatInt(b.ID, 10), to: a, msg: m}
	}
	d := &inbox.Delivery{Inbox: in.cfg.Name, Event: b.Events[0], Tenant: b.Tenant, DB: db, Ledger: in.ledger}
	if err := in.deliver(ctx, d, sends); err != nil {
		return fmt.Errorf("%s inbox %s: window %d: %w", in.cfg.Package, in.cfg.Name, b.ID, err)
	}
	return nil
}
