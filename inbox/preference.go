package inbox

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Channels a preference applies to. Every channel inbox (in-app, email,
// Slack) asks Unmuted with its own before delivering.
const (
	ChannelApp   = "app"
	ChannelEmail = "email"
	ChannelSlack = "slack"
	// AnyChannel in a Preference covers every channel; AnyAction covers
	// every action of the domain.
	AnyChannel = "*"
	AnyAction  = "*"
)

// Preference is one recipient's choice about one kind of event on one
// channel. When several preferences match a delivery, the most specific
// wins: an exact action over AnyAction, then an exact channel over
// AnyChannel. So "mute everything on issues by email, but not
// comment_added" is two rows.
type Preference struct {
	Recipient string
	Channel   string // ChannelApp, ChannelEmail, ChannelSlack, a channel of yours, or AnyChannel
	Domain    string
	Action    string // an action, AnyAction, or SubjectAction(id) for one subject
	Muted     bool
}

// maxPreferenceField caps each field of a Preference, in bytes.
const maxPreferenceField = 200

func (p Preference) validate() error {
	for name, v := range map[string]string{"Recipient": p.Recipient, "Channel": p.Channel, "Domain": p.Domain, "Action": p.Action} {
		if len(v) > maxPreferenceField || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return &ConfigError{Field: "Preference." + name, Reason: fmt.Sprintf("is %.40q: use valid UTF-8 without NUL bytes, at most %d bytes", v, maxPreferenceField)}
		}
	}
	switch {
	case p.Recipient == "":
		return &ConfigError{Field: "Preference.Recipient", Reason: "is empty"}
	case p.Channel == "":
		return &ConfigError{Field: "Preference.Channel", Reason: "is empty: use inbox.ChannelApp, ChannelEmail, ChannelSlack or AnyChannel"}
	case p.Domain == "":
		return &ConfigError{Field: "Preference.Domain", Reason: "is empty"}
	case p.Action == "":
		return &ConfigError{Field: "Preference.Action", Reason: "is empty: use an action or inbox.AnyAction"}
	}
	return nil
}

// SetPreference records p, replacing the recipient's earlier choice for
// the same channel, domain and action. Preferences belong to the context's
// tenant (see TenantOf; none for an untenanted app): a recipient's choices
// in one tenant do not apply in another. Recipient TenantDefault sets the
// tenant's default for everyone who did not choose.
func SetPreference(ctx context.Context, db *gorm.DB, p Preference) error {
	if db == nil {
		return errNilDB
	}
	if err := p.validate(); err != nil {
		return err
	}
	err := db.WithContext(ctx).Exec(`INSERT INTO notification_preferences (tenant_id, recipient, channel, domain, action, muted, updated_at)
VALUES (?, ?, ?, ?, ?, ?, now())
ON CONFLICT (tenant_id, recipient, channel, domain, action) DO UPDATE SET muted = EXCLUDED.muted, updated_at = EXCLUDED.updated_at`,
		TenantOf(ctx), p.Recipient, p.Channel, p.Domain, p.Action, p.Muted).Error
	if err != nil {
		return fmt.Errorf("inbox: set preference: %w", err)
	}
	return nil
}

// Mute records that recipient does not want action (or AnyAction) of
// domain on channel (or AnyChannel).
func Mute(ctx context.Context, db *gorm.DB, recipient, channel, domain, action string) error {
	return SetPreference(ctx, db, Preference{Recipient: recipient, Channel: channel, Domain: domain, Action: action, Muted: true})
}

// Unmute removes recipient's choice for exactly (channel, domain, action),
// so a broader one (or the default, delivered) applies again.
func Unmute(ctx context.Context, db *gorm.DB, recipient, channel, domain, action string) error {
	if db == nil {
		return errNilDB
	}
	cond, targs := TenantKeyCondition(ctx, "")
	err := db.WithContext(ctx).Exec(`DELETE FROM notification_preferences WHERE `+cond+` AND recipient = ? AND channel = ? AND domain = ? AND action = ?`,
		append(targs, recipient, channel, domain, action)...).Error
	if err != nil {
		return fmt.Errorf("inbox: unmute: %w", err)
	}
	return nil
}

// Preferences returns recipient's recorded choices.
func Preferences(ctx context.Context, db *gorm.DB, recipient string) ([]Preference, error) {
	if db == nil {
		return nil, errNilDB
	}
	var out []Preference
	cond, targs := TenantKeyCondition(ctx, "")
	rows, err := db.WithContext(ctx).Raw(`SELECT recipient, channel, domain, action, muted FROM notification_preferences
WHERE `+cond+` AND recipient = ? ORDER BY domain, action, channel`, append(targs, recipient)...).Rows()
	if err != nil {
		return nil, fmt.Errorf("inbox: preferences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Preference
		if err := rows.Scan(&p.Recipient, &p.Channel, &p.Domain, &p.Action, &p.Muted); err != nil {
			return nil, fmt.Errorf("inbox: preferences: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Unmuted returns the recipients that have not muted action of domain on
// channel, in their order, in one query.
func Unmuted(ctx context.Context, db *gorm.DB, channel, domain, action string, recipients []string) ([]string, error) {
	if db == nil {
		return nil, errNilDB
	}
	if len(recipients) == 0 {
		return nil, nil
	}
	var muted []string
	cond, targs := TenantKeyCondition(ctx, "")
	err := db.WithContext(ctx).Raw(`SELECT recipient FROM (
  SELECT DISTINCT ON (recipient) recipient, muted FROM notification_preferences
   WHERE `+cond+` AND recipient = ANY(?::text[]) AND domain = ? AND channel IN (?, '*') AND action IN (?, '*')
   ORDER BY recipient, (action = '*'), (channel = '*')
) p WHERE muted`, append(targs, pgarray.Text(recipients), domain, channel, action)...).Scan(&muted).Error
	if err != nil {
		return nil, fmt.Errorf("inbox: preferences: %w", err)
	}
	if len(muted) == 0 {
		return recipients, nil
	}
	skip := make(map[string]bool, len(muted))
	for _, m := range muted {
		skip[m] = true
	}
	out := make([]string, 0, len(recipients)-len(muted))
	for _, r := range recipients {
		if !skip[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

// StoredPreference is one preference a recipient stored (a row of
// notification_preferences, written by SetPreference, Mute and Unmute),
// as a person's export lists it.
type StoredPreference struct {
	Recipient string    `json:"recipient"`
	Channel   string    `json:"channel"`
	Domain    string    `json:"domain"`
	Action    string    `json:"action"` // an action, AnyAction, or SubjectAction(id)
	Muted     bool      `json:"muted"`
	UpdatedAt time.Time `json:"updated_at"`
	// Tenant is the tenant the preference was set in ("" untenanted).
	Tenant string `json:"tenant,omitempty"`
}

// StoredPreferences returns every preference recipient stored in the
// context's tenant (untenanted ones without a tenant; every tenant's under
// activity.AcrossTenants with none: see PersonTenantCondition), in one
// query, with when and where each was set: a person's export lists them.
func StoredPreferences(ctx context.Context, db *gorm.DB, recipient string) ([]StoredPreference, error) {
	if db == nil {
		return nil, errNilDB
	}
	var out []StoredPreference
	cond, args := PersonTenantCondition(ctx, "", true)
	err := db.WithContext(ctx).Raw(`SELECT recipient, channel, domain, action, muted, updated_at, tenant_id AS tenant FROM notification_preferences
WHERE `+cond+` AND recipient = ? ORDER BY tenant_id, domain, action, channel`, append(args, recipient)...).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("inbox: stored preferences: %w", err)
	}
	return out, nil
}
