package email

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// RecipientsFunc returns the people an event may be mailed to, typically
// the subject's author and watchers. It may return the actor, duplicates
// and people who muted the mail: the inbox drops them (see
// Inbox.Recipients). An error is retried.
type RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error)

// Recipients returns who ev is mailed to: Config.Recipients' answer
// without
//
//   - the actor (a recipient whose ID is the event's actor ID, when the
//     actor's type is InboxConfig.RecipientType),
//   - recipients without an ID or with an address that cannot be mailed
//     (logged),
//   - duplicates (same ID or same address; the first wins),
//   - whoever muted the event's action, its domain (inbox.AnyAction) or its
//     subject (SubjectAction) on the inbox's channel or on every channel,
//     unless InboxConfig.Defaults makes the action critical (see
//     inbox.Defaults.Wanted).
//
// It costs the app's function and one query.
func (in *Inbox) Recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error) {
	got, err := in.cfg.Recipients(ctx, db, ev)
	if err != nil {
		return nil, fmt.Errorf("email inbox %s: recipients of %s: %w", in.cfg.Name, ev.Ref(), err)
	}
	byID := make(map[string]Recipient, len(got))
	seenEmail := make(map[string]bool, len(got))
	ids := make([]string, 0, len(got))
	for _, r := range got {
		switch {
		case r.ID == "":
			in.log.WarnContext(ctx, "email: recipient without ID skipped; preferences and the ledger are keyed by it", "inbox", in.cfg.Name, "event", ev.Ref().String(), "email", r.Email)
			continue
		case ev.ActorType == in.cfg.RecipientType && ev.ActorID == r.ID:
			continue
		case byID[r.ID].ID != "" || seenEmail[strings.ToLower(r.Email)]:
			continue
		}
		if err := r.validate(); err != nil {
			in.log.WarnContext(ctx, "email: recipient skipped", "inbox", in.cfg.Name, "event", ev.Ref().String(), "recipient", r.ID, "error", err)
			continue
		}
		byID[r.ID] = r
		seenEmail[strings.ToLower(r.Email)] = true
		ids = append(ids, r.ID)
	}
	if len(ids) == 0 {
		return nil, nil
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
