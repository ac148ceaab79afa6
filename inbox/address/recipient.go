package address

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Recipient is a person an event may be delivered to.
type Recipient struct {
	// ID is the person's key, as device.Register stored their addresses
	// ("7"). Required.
	ID string
	// Locale words their messages (BCP 47); "" for Config.Locale.
	Locale string
	// Location is the clock of their batched windows (daily@08:00 is
	// their morning). Default UTC.
	Location *time.Location
}

// RecipientsFunc returns who may be told of ev, typically the subject's
// author and watchers. It may return the actor, duplicates and people who
// muted the channel: the inbox drops them. An error is retried.
type RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error)

// Recipients returns who ev is delivered to: Config.Recipients' answer
// without recipients without an ID, the actor, duplicates (the first
// wins), and whoever does not want ev on Config.Channel (mutes, the app's
// Off kinds: inbox.Defaults.Wanted).
func (in *Inbox[M]) Recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error) {
	byID, ids, err := in.candidates(ctx, db, ev)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	ids, err = in.cfg.Defaults.Wanted(ctx, db, in.cfg.Channel, ev.Domain, ev.Action, ev.SubjectID, ids)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out := make([]Recipient, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// candidates is Config.Recipients' answer without recipients without an
// ID, the actor and duplicates, by ID and in order.
func (in *Inbox[M]) candidates(ctx context.Context, db *gorm.DB, ev activity.Event) (map[string]Recipient, []string, error) {
	got, err := in.cfg.Recipients(ctx, db, ev)
	if err != nil {
		return nil, nil, fmt.Errorf("%s inbox %s: recipients of %s: %w", in.cfg.Package, in.cfg.Name, ev.Ref(), err)
	}
	byID := make(map[string]Recipient, len(got))
	ids := make([]string, 0, len(got))
	for _, r := range got {
		if _, dup := byID[r.ID]; r.ID == "" || dup || (ev.ActorType == in.cfg.RecipientType && ev.ActorID == r.ID) {
			continue
		}
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	return byID, ids, nil
}

func (in *Inbox[M]) locale(loc string) string {
	if loc == "" {
		return in.cfg.Locale
	}
	return loc
}
