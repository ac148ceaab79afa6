package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/rawscan"
)

// ErrCritical is returned (inside a *CriticalError) when a user tries to
// mute a kind of notification the app declared critical.
var ErrCritical = errors.New("inbox: critical notifications cannot be muted")

// CriticalError reports a refused mute of a critical kind.
type CriticalError struct {
	Kind Kind // the critical kind that matched
}

func (e *CriticalError) Error() string {
	return fmt.Sprintf("inbox: %s is critical: the app sends it whatever the user chose, so it cannot be muted", e.Kind)
}
func (e *CriticalError) Is(target error) bool { return target == ErrCritical }

// Kind is a kind of notification: one action (or AnyAction) of one domain
// on one channel (or AnyChannel).
type Kind struct {
	Channel, Domain, Action string
}

func (k Kind) String() string { return k.Domain + "." + k.Action + " on " + k.Channel }

func (k Kind) matches(channel, domain, action string) bool {
	return k.Domain == domain && (k.Channel == AnyChannel || k.Channel == channel) && (k.Action == AnyAction || k.Action == action)
}

// subjectPrefix starts the action column of a per-subject preference.
const subjectPrefix = "subject:"

// SubjectAction is the preference action of one subject: a Preference
// with Action SubjectAction("42") mutes (or, with Muted false, keeps)
// every notification about subject 42 of the domain on its channel.
// notification_preferences has no subject column; this is its key.
func SubjectAction(subjectID string) string { return subjectPrefix + subjectID }

// IsSubjectAction reports whether action is a SubjectAction, and of which
// subject.
func IsSubjectAction(action string) (subjectID string, ok bool) {
	return strings.CutPrefix(action, subjectPrefix)
}

// Defaults is what the app decides before any user chooses. A user's own
// preference (a Preference row) overrides the default of its kind, a
// per-subject preference overrides both, and a critical kind is delivered
// whatever the user chose. The zero or nil Defaults deliver every kind a
// user has not muted, and nothing is critical.
//
// The most specific choice wins, in this order:
//
//  1. Critical: delivered.
//  2. The user's preference for the subject (SubjectAction), on the
//     channel, then on AnyChannel.
//  3. The user's preference for the action, then for AnyAction; each on
//     the channel, then on AnyChannel.
//  4. The app's default: Off kinds are not delivered, others are.
type Defaults struct {
	// Off lists kinds a user gets only after turning them on (a
	// Preference with Muted false).
	Off []Kind
	// Critical lists kinds every recipient gets: security notices,
	// billing failures. Users cannot mute them (Set refuses with a
	// *CriticalError; rows written otherwise are ignored).
	Critical []Kind
	// Delivery gives kinds a default delivery choice other than
	// immediate (a daily digest of email, say): the first entry whose kind
	// covers a delivery applies to users who chose nothing. See Choices.
	Delivery []KindChoice
}

// Check reports a kind without a channel, domain or action.
func (d *Defaults) Check() error {
	if d == nil {
		return nil
	}
	for i, kc := range d.Delivery {
		k := kc.Kind
		if k.Channel == "" || k.Domain == "" || k.Action == "" {
			return &ConfigError{Field: fmt.Sprintf("Defaults.Delivery[%d]", i), Reason: fmt.Sprintf("is %+v: give Channel (or AnyChannel), Domain, and Action (or AnyAction)", k)}
		}
		if err := kc.Choice.Check(); err != nil {
			return err
		}
	}
	for name, kinds := range map[string][]Kind{"Off": d.Off, "Critical": d.Critical} {
		for i, k := range kinds {
			if k.Channel == "" || k.Domain == "" || k.Action == "" {
				return &ConfigError{Field: fmt.Sprintf("Defaults.%s[%d]", name, i), Reason: fmt.Sprintf("is %+v: give Channel (or AnyChannel), Domain, and Action (or AnyAction)", k)}
			}
		}
	}
	return nil
}

// CriticalKind returns the critical kind covering action of domain on
// channel, if any.
func (d *Defaults) CriticalKind(channel, domain, action string) (Kind, bool) {
	if d == nil {
		return Kind{}, false
	}
	for _, k := range d.Critical {
		if k.matches(channel, domain, action) {
			return k, true
		}
	}
	return Kind{}, false
}

// DefaultOn reports whether action of domain on channel is delivered to a
// user who chose nothing.
func (d *Defaults) DefaultOn(channel, domain, action string) bool {
	if d == nil {
		return true
	}
	if _, ok := d.CriticalKind(channel, domain, action); ok {
		return true
	}
	for _, k := range d.Off {
		if k.matches(channel, domain, action) {
			return false
		}
	}
	return true
}

// Set records a user's preference like SetPreference, but refuses to mute
// a critical kind with a *CriticalError (for AnyAction or AnyChannel: if
// any critical kind falls under it, since the mute would read as covering
// it).
func (d *Defaults) Set(ctx context.Context, db *gorm.DB, p Preference) error {
	if err := p.validate(); err != nil {
		return err
	}
	_, isSubject := IsSubjectAction(p.Action)
	if p.Muted && d != nil && !isSubject { // a subject mute leaves critical kinds flowing (Wanted ignores it for them)
		for _, k := range d.Critical {
			chanOverlap := p.Channel == AnyChannel || k.Channel == AnyChannel || k.Channel == p.Channel
			actOverlap := p.Action == AnyAction || k.Action == AnyAction || k.Action == p.Action
			if k.Domain == p.Domain && chanOverlap && actOverlap {
				return &CriticalError{Kind: k}
			}
		}
	}
	return SetPreference(ctx, db, p)
}

// Recipients is inbox.Recipients under these defaults: it narrows ids to
// the people who hear of ev on channel (no empty keys, no duplicates, not
// the actor, and only who wants it; see Wanted).
func (d *Defaults) Recipients(ctx context.Context, db *gorm.DB, channel string, ev activity.Event, recipientType string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, r := range ids {
		if r == "" || seen[r] || (ev.ActorType == recipientType && ev.ActorID == r) {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return d.Wanted(ctx, db, channel, ev.Domain, ev.Action, ev.SubjectID, out)
}

// Wanted returns, in their order, the recipients who get action of domain
// about subjectID on channel, in one query (none for a critical kind):
// the most specific preference of each wins, else the default (see
// Defaults).
func (d *Defaults) Wanted(ctx context.Context, db *gorm.DB, channel, domain, action, subjectID string, recipients []string) ([]string, error) {
	if db == nil {
		return nil, errNilDB
	}
	if len(recipients) == 0 {
		return nil, nil
	}
	if _, ok := d.CriticalKind(channel, domain, action); ok {
		return recipients, nil
	}
	subject := SubjectAction(subjectID)
	if subjectID == "" {
		subject = action // no subject: the subject rows are the action's
	}
	var prefs []struct {
		Recipient string
		Muted     bool
	}
	// The tenant's default (Recipient TenantDefault) is read with the
	// recipients' own rows, and applies to those without one.
	cond, targs := TenantKeyCondition(ctx, "")
	err := rawscan.All(db.WithContext(ctx).Raw(`SELECT DISTINCT ON (recipient) recipient, muted FROM notification_preferences
 WHERE `+cond+` AND recipient = ANY(?::text[]) AND domain = ? AND channel IN (?, '*') AND action IN (?, ?, '*')
 ORDER BY recipient, (action <> ?), (action = '*'), (channel = '*')`,
		append(targs, pgarray.Text(append(slices.Clip(recipients), TenantDefault)), domain, channel, action, subject, subject)...), &prefs)
	if err != nil {
		return nil, fmt.Errorf("inbox: preferences: %w", err)
	}
	chose := make(map[string]bool, len(prefs))
	for _, p := range prefs {
		chose[p.Recipient] = !p.Muted
	}
	on := d.DefaultOn(channel, domain, action)
	if tenantOn, ok := chose[TenantDefault]; ok {
		on = tenantOn
	}
	out := make([]string, 0, len(recipients))
	for _, r := range recipients {
		if r == TenantDefault {
			continue // not a person
		}
		want, ok := chose[r]
		if !ok {
			want = on
		}
		if want {
			out = append(out, r)
		}
	}
	return out, nil
}
