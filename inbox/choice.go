package inbox

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Mode is how a person gets a kind of notification on a channel.
type Mode string

// Delivery modes.
const (
	// Immediate delivers each event as it comes. The default.
	Immediate Mode = "immediate"
	// Batched gathers events into a window (package inbox/batch) and
	// delivers them together when it closes, on Choice.Schedule.
	Batched Mode = "batched"
	// Off does not deliver (a mute). Critical kinds ignore it.
	Off Mode = "off"
)

// Choice is a person's (or the app's default) delivery choice for a kind
// of notification on a channel: immediately, batched on a schedule, or off.
type Choice struct {
	Mode     Mode
	Schedule Schedule // with Batched
}

// ImmediateChoice, OffChoice and BatchedOn build Choices.
var (
	ImmediateChoice = Choice{Mode: Immediate}
	OffChoice       = Choice{Mode: Off}
)

// BatchedOn is the choice of batching on s.
func BatchedOn(s Schedule) Choice { return Choice{Mode: Batched, Schedule: s} }

// Check reports a choice that cannot be honoured.
func (c Choice) Check() error {
	switch c.Mode {
	case Immediate, Off:
		return nil
	case Batched:
		return c.Schedule.Check()
	}
	return &ConfigError{Field: "Choice.Mode", Reason: fmt.Sprintf("%.40q is not inbox.Immediate, Batched or Off", string(c.Mode))}
}

// String is "immediate", "off", or the schedule ("daily@08:00").
func (c Choice) String() string {
	if c.Mode == Batched {
		return c.Schedule.String()
	}
	return string(c.Mode)
}

// ParseChoice reads what Choice.String wrote.
func ParseChoice(v string) (Choice, error) {
	switch Mode(v) {
	case Immediate, Off:
		return Choice{Mode: Mode(v)}, nil
	}
	s, err := ParseSchedule(v)
	if err != nil {
		return Choice{}, &ConfigError{Field: "Choice", Reason: fmt.Sprintf("%.40q is not a choice: use immediate, off, hourly, daily@HH:MM, weekly@<0-6>@HH:MM or window:<duration>", v)}
	}
	return BatchedOn(s), nil
}

// KindChoice is an app's default Choice for a kind (Defaults.Delivery).
type KindChoice struct {
	Kind   Kind
	Choice Choice
}

// SetChoice records recipient's choice for action (or AnyAction) of
// domain on channel (or AnyChannel). Off mutes the kind, like Set, and is
// refused with a *CriticalError for a kind covering a critical one. Any
// other choice is stored in notification_delivery, next to the
// preferences, and lifts the person's own mute of exactly that kind (one
// who picks "daily" for it wants it); it does not turn on kinds the app
// has off by default. A batched choice of a critical kind is stored but
// not honoured: critical kinds are always immediate.
//
// Choices belong to the context's tenant, like preferences (see
// SetPreference): a choice made in one tenant does not apply in another.
// Recipient TenantDefault sets the tenant's default choice for everyone
// of the tenant who has not chosen for the kind themselves.
func (d *Defaults) SetChoice(ctx context.Context, db *gorm.DB, recipient, channel, domain, action string, c Choice) error {
	if db == nil {
		return errNilDB
	}
	if err := c.Check(); err != nil {
		return err
	}
	p := Preference{Recipient: recipient, Channel: channel, Domain: domain, Action: action, Muted: true}
	if err := p.validate(); err != nil {
		return err
	}
	if c.Mode == Off {
		return d.Set(ctx, db, p) // refuses critical kinds
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		tenant := TenantOf(ctx)
		err := tx.Exec(`INSERT INTO notification_delivery (tenant_id, recipient, channel, domain, action, delivery, updated_at)
VALUES (?, ?, ?, ?, ?, ?, now())
ON CONFLICT (tenant_id, recipient, channel, domain, action) DO UPDATE SET delivery = EXCLUDED.delivery, updated_at = EXCLUDED.updated_at`,
			tenant, recipient, channel, domain, action, c.String()).Error
		if err == nil {
			cond, targs := TenantKeyCondition(ctx, "")
			err = tx.Exec(`DELETE FROM notification_preferences WHERE `+cond+` AND recipient = ? AND channel = ? AND domain = ? AND action = ? AND muted`,
				append(targs, recipient, channel, domain, action)...).Error
		}
		if err != nil {
			return fmt.Errorf("inbox: set choice: %w", err)
		}
		return nil
	})
}

// ChoiceOf returns recipient's own stored choice for exactly (channel,
// domain, action) in the context's tenant, and false when they stored none
// there (Off is a mute: see Preferences).
func ChoiceOf(ctx context.Context, db *gorm.DB, recipient, channel, domain, action string) (Choice, bool, error) {
	if db == nil {
		return Choice{}, false, errNilDB
	}
	var v []string
	cond, targs := TenantKeyCondition(ctx, "")
	err := db.WithContext(ctx).Raw(`SELECT delivery FROM notification_delivery WHERE `+cond+` AND recipient = ? AND channel = ? AND domain = ? AND action = ?`,
		append(targs, recipient, channel, domain, action)...).Scan(&v).Error
	if err != nil {
		return Choice{}, false, fmt.Errorf("inbox: choice: %w", err)
	}
	if len(v) == 0 {
		return Choice{}, false, nil
	}
	c, err := ParseChoice(v[0])
	return c, err == nil, err
}

// DefaultChoice is the app's choice for users who chose nothing: Off for
// an Off kind, else the first Delivery entry covering it, else Immediate.
// Critical kinds are Immediate.
func (d *Defaults) DefaultChoice(channel, domain, action string) Choice {
	if d == nil {
		return ImmediateChoice
	}
	if _, ok := d.CriticalKind(channel, domain, action); ok {
		return ImmediateChoice
	}
	if !d.DefaultOn(channel, domain, action) {
		return OffChoice
	}
	for _, kc := range d.Delivery {
		if kc.Kind.matches(channel, domain, action) {
			return kc.Choice
		}
	}
	return ImmediateChoice
}

// Choices returns how each recipient gets action of domain about
// subjectID on channel, in two queries: Off for who does not want it (see
// Wanted: mutes, per-subject mutes, the app's Off kinds), else their own
// delivery choice (the most specific: exact action over AnyAction, exact
// channel over AnyChannel), else the tenant's default choice (Recipient
// TenantDefault), else the app's Delivery default, else Immediate. A
// critical kind is Immediate for everyone, whatever they chose. Choices
// and preferences are read in the context's tenant only.
func (d *Defaults) Choices(ctx context.Context, db *gorm.DB, channel, domain, action, subjectID string, recipients []string) (map[string]Choice, error) {
	out := make(map[string]Choice, len(recipients))
	if len(recipients) == 0 {
		return out, nil
	}
	if _, ok := d.CriticalKind(channel, domain, action); ok {
		for _, r := range recipients {
			out[r] = ImmediateChoice
		}
		return out, nil
	}
	wanted, err := d.Wanted(ctx, db, channel, domain, action, subjectID, recipients)
	if err != nil {
		return nil, err
	}
	for _, r := range recipients {
		out[r] = OffChoice
	}
	if len(wanted) == 0 {
		return out, nil
	}
	var rows []struct {
		Recipient string
		Delivery  string
	}
	// The tenant's default (Recipient TenantDefault) is read with the
	// recipients' own rows, and applies to those without one.
	cond, targs := TenantKeyCondition(ctx, "")
	err = db.WithContext(ctx).Raw(`SELECT DISTINCT ON (recipient) recipient, delivery FROM notification_delivery
 WHERE `+cond+` AND recipient = ANY(?::text[]) AND domain = ? AND channel IN (?, '*') AND action IN (?, '*')
 ORDER BY recipient, (action = '*'), (channel = '*')`, append(targs, pgarray.Text(append(slices.Clip(wanted), TenantDefault)), domain, channel, action)...).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("inbox: delivery choices: %w", err)
	}
	def := d.DefaultChoice(channel, domain, action)
	if def.Mode == Off {
		def = ImmediateChoice // turned on by the person; their delivery row (if any) says how
	}
	chose := make(map[string]Choice, len(rows))
	for _, row := range rows {
		if c, err := ParseChoice(row.Delivery); err == nil && c.Mode != Off {
			chose[row.Recipient] = c
		}
	}
	if c, ok := chose[TenantDefault]; ok {
		def = c
	}
	for _, r := range wanted {
		if r == TenantDefault {
			continue // not a person
		}
		if c, ok := chose[r]; ok {
			out[r] = c
		} else {
			out[r] = def
		}
	}
	return out, nil
}

// StoredChoice is one delivery choice a recipient stored (a row of
// notification_delivery, written by Defaults.SetChoice).
type StoredChoice struct {
	Recipient string    `json:"recipient"`
	Channel   string    `json:"channel"`
	Domain    string    `json:"domain"`
	Action    string    `json:"action"`   // an action or AnyAction
	Delivery  string    `json:"delivery"` // Choice.String: "immediate" or a schedule ("daily@08:00")
	UpdatedAt time.Time `json:"updated_at"`
	// Tenant is the tenant the choice was made in ("" untenanted).
	Tenant string `json:"tenant,omitempty"`
}

// StoredChoices returns every delivery choice recipient stored in the
// context's tenant (untenanted ones without a tenant; every tenant's under
// activity.AcrossTenants with none: see PersonTenantCondition), in one
// query (a person's export lists them with their preferences; Off choices
// are mutes: see StoredPreferences).
func StoredChoices(ctx context.Context, db *gorm.DB, recipient string) ([]StoredChoice, error) {
	if db == nil {
		return nil, errNilDB
	}
	var out []StoredChoice
	cond, args := PersonTenantCondition(ctx, "", true)
	err := db.WithContext(ctx).Raw(`SELECT recipient, channel, domain, action, delivery, updated_at, tenant_id AS tenant FROM notification_delivery
WHERE `+cond+` AND recipient = ? ORDER BY tenant_id, domain, action, channel`, append(args, recipient)...).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("inbox: delivery choices: %w", err)
	}
	return out, nil
}
