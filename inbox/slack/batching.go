package slack

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// BatchingConfig makes a Slack Inbox post one message per window per
// thread (see InboxConfig.Batching).
//
// The window of a thread (routed channel, subject) opens on its first
// event and closes on Schedule; every event of the window is listed in
// the one message posted when it closes, in the subject's thread. No
// message is edited or followed up while the window is open: the channel
// sees nothing until the window closes, then one message. A flusher that
// dies after Slack accepted the message and before the window was marked
// sent makes the next flusher post it again after FlushClaimTimeout.
type BatchingConfig struct {
	// DB holds the windows. Required.
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
	// Catalog and Locale word the message: "<domain>.<action>.line" per
	// event and "digest.subject" as the heading. Default nil: Sentence
	// per event, in English.
	Catalog *locale.Catalog
	Locale  string
	// FlushClaimTimeout: see batch.Config.ClaimTimeout. Default 5 minutes.
	FlushClaimTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// BatchPublisher posts one message for a batch of one subject's events.
// *Poster is one.
type BatchPublisher interface {
	PostBatch(ctx context.Context, events []activity.Event, msg Message) (Posted, error)
}

func (in *Inbox) newBatcher() error {
	bc := in.cfg.Batching
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "slack.InboxConfig.Batching." + field, Reason: reason}
	}
	if bc.DB == nil {
		return bad("DB", "is nil: windows live in PostgreSQL")
	}
	if _, ok := in.cfg.Publisher.(BatchPublisher); !ok {
		return bad("", fmt.Sprintf("needs a Publisher that posts batches (a *Poster); %T does not", in.cfg.Publisher))
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

// Batcher returns the inbox's batching step (nil without Batching).
func (in *Inbox) Batcher() *batch.Batcher { return in.batcher }

// Flush posts the windows due at now; see batch.Batcher.Flush.
func (in *Inbox) Flush(ctx context.Context, now time.Time) (batch.Result, error) {
	if in.batcher == nil {
		return batch.Result{}, nil
	}
	return in.batcher.Flush(ctx, now)
}

// processBatching puts the event into its thread's window, once.
func (in *Inbox) processBatching(ctx context.Context, d *inbox.Delivery, route string) error {
	bc := in.cfg.Batching
	var joined batch.Joined
	_, err := d.Once(ctx, d.DB, "", func(tx *gorm.DB) error {
		var err error
		joined, err = in.batcher.Add(ctx, tx, batch.AddRequest{Recipient: route, Key: d.Event.Domain + "/" + d.Event.SubjectID,
			Schedule: bc.Schedule, Location: bc.Location, Locale: bc.Locale, Event: d.Event, Tenant: d.Event.TenantID})
		return err
	})
	if err != nil {
		return fmt.Errorf("slack inbox %s: batch %s: %w", in.cfg.Name, d.Event.Ref(), err)
	}
	if joined.Window != 0 {
		in.batcher.Scheduled(ctx, joined)
	}
	return nil
}

// BatchText renders a window's message: a heading, then a line per event.
func BatchText(cat *locale.Catalog, loc string, events []activity.Event) string {
	var b []byte
	if cat != nil && cat.Has(cat.Fallback(), locale.DigestSubject) {
		b = append(b, "*"+Escape(cat.Sprintf(loc, locale.DigestSubject, len(events)))+"*\n"...)
	} else {
		b = append(b, fmt.Sprintf("*%d updates*\n", len(events))...)
	}
	for _, ev := range events {
		line := Sentence(ev)
		if cat != nil && cat.Has(cat.Fallback(), locale.Key(ev.Domain, ev.Action, locale.PartLine)) {
			line = Escape(cat.Line(loc, ev))
		}
		b = append(b, "• "+line+"\n"...)
	}
	return string(b)
}

func (in *Inbox) deliverBatch(ctx context.Context, b *batch.Batch) error {
	bc := in.cfg.Batching
	text := BatchText(bc.Catalog, b.Locale, b.Events)
	_, err := in.cfg.Publisher.(BatchPublisher).PostBatch(ctx, b.Events, Message{Text: text})
	return in.jobError(err)
}
