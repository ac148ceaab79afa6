package email

import (
	"context"
	"encoding/json"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// BatchingConfig makes an Inbox honour each recipient's delivery choice
// (see InboxConfig.Batching). Zero fields take the defaults.
type BatchingConfig struct {
	// MaxItems caps a digest: the event that fills it sends it early.
	// Default 100.
	MaxItems int
	// Scheduler flushes each window at its due time (a
	// *batch.AsynqScheduler; serve its tasks with batch.Handler(in.Batcher())).
	// Default nil: only Flush (RunFlush) and the batch sweep send; run by
	// a tidings.Client, the client's (batch.Batcher.UseSchedulerIfNone).
	Scheduler batch.Scheduler
}

// Batcher returns the inbox's batching step (nil without Batching or Digest): for
// batch.Handler, and for its Run sweep.
func (in *Inbox) Batcher() *batch.Batcher { return in.batcher }

// profile is what a window keeps of its recipient, to address the digest.
type profile struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Email  string `json:"email"`
	Locale string `json:"locale,omitempty"`
}

// processBatching mails the recipients who chose immediate delivery and
// puts the event into the window of each who chose a batched one, once
// (in the ledger's transaction). Who chose off was left out by Recipients.
func (in *Inbox) processBatching(ctx context.Context, d *inbox.Delivery, to []Recipient) error {
	ev := d.Event
	ids := make([]string, len(to))
	byID := make(map[string]Recipient, len(to))
	for i, r := range to {
		ids[i], byID[r.ID] = r.ID, r
	}
	choices, err := in.cfg.Defaults.Choices(ctx, d.DB, in.cfg.Channel, ev.Domain, ev.Action, ev.SubjectID, ids)
	if err != nil {
		return fmt.Errorf("email inbox %s: choices for %s: %w", in.cfg.Name, ev.Ref(), err)
	}
	var now, batched []string
	for _, id := range ids {
		switch choices[id].Mode {
		case inbox.Batched:
			batched = append(batched, id)
		case inbox.Immediate:
			now = append(now, id)
		}
	}
	if len(batched) > 0 {
		var joined []batch.Joined
		_, err := d.OnceEach(ctx, d.DB, batched, func(tx *gorm.DB, fresh []string) error {
			joined = joined[:0]
			for _, id := range fresh {
				r := byID[id]
				j, err := in.batcher.Add(ctx, tx, batch.AddRequest{Recipient: id, Schedule: choices[id].Schedule, Location: r.Location,
					Locale: r.Locale, Profile: profile{ID: r.ID, Name: r.Name, Email: r.Email, Locale: r.Locale}, Event: ev, Tenant: ev.TenantID})
				if err != nil {
					return err
				}
				joined = append(joined, j)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("email inbox %s: batch %s: %w", in.cfg.Name, ev.Ref(), err)
		}
		in.batcher.Scheduled(ctx, joined...)
	}
	if len(now) == 0 {
		if len(batched) == 0 {
			d.Suppress()
		}
		return nil
	}
	single := make([]Recipient, len(now))
	for i, id := range now {
		single[i] = byID[id]
	}
	return in.sendEach(ctx, d, single)
}

// deliverBatch mails one closed window as a digest. Its Message-ID comes
// from the recipient and the set of events, so a window delivered twice
// (a flusher that died after sending) is the same mail.
func (in *Inbox) deliverBatch(ctx context.Context, b *batch.Batch) error {
	var p profile
	if err := json.Unmarshal(b.Profile, &p); err != nil || p.Email == "" {
		return inbox.Permanent(fmt.Errorf("email inbox %s: window %d has no address for %s", in.cfg.Name, b.ID, b.Recipient))
	}
	to := Recipient{ID: p.ID, Name: p.Name, Email: p.Email, Locale: p.Locale, Location: b.Location}
	msg, err := in.cfg.Builder.BuildDigest(ctx, to, b.Events)
	if err != nil {
		return inbox.Permanent(err)
	}
	// Classified as a single mail's send is: a server that does not
	// answer is a transport failure of the sink (its breaker holds the
	// window, batch.Config.Breaker), a refused configuration fails it
	// with the reason.
	return in.classify(in.cfg.Transport.Send(ctx, msg), in.Sink())
}
