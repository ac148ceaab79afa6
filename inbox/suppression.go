package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/rawscan"
)

// ErrSuppressed matches the outcome of a recipient on the suppression
// list: nothing is sent to it. ErrRefused matches a recipient the sink
// refused for good (a 550): recorded and not tried again.
var (
	ErrSuppressed = errors.New("inbox: recipient suppressed")
	ErrRefused    = errors.New("inbox: recipient refused permanently")
)

// Suppression reasons.
const (
	ReasonHardBounce  = "hard_bounce" // the address does not exist
	ReasonComplaint   = "complaint"   // the recipient marked a message as spam
	ReasonManual      = "manual"      // added by an operator
	ReasonUnsubscribe = "unsubscribe" // the recipient opted out of the channel
)

var suppressionReasons = []string{ReasonHardBounce, ReasonComplaint, ReasonManual, ReasonUnsubscribe}

// Suppression is one address no send may go to on one channel. Every
// channel inbox of this module checks the list before sending (email
// before every mail), and adds hard bounces itself.
type Suppression struct {
	Channel   string // ChannelEmail, ChannelSlack, ...
	Address   string // an email address (compared case-insensitively), a Slack user ID
	Reason    string // ReasonHardBounce, ReasonComplaint, ReasonManual, ReasonUnsubscribe
	Source    string // who said so: "smtp", "api", a provider's name
	Detail    string // the server's answer, an operator's note
	CreatedAt time.Time
}

// SuppressionError reports a Suppression that cannot be stored.
type SuppressionError struct {
	Field  string
	Reason string
}

func (e *SuppressionError) Error() string {
	return fmt.Sprintf("inbox: suppression %s %s", e.Field, e.Reason)
}
func (e *SuppressionError) Is(target error) bool { return target == ErrInvalidConfig }

// NormalizeAddress is how addresses are compared on the list: trimmed,
// and lower-cased when they look like email addresses.
func NormalizeAddress(channel, address string) string {
	a := strings.TrimSpace(address)
	if strings.Contains(a, "@") {
		a = strings.ToLower(a)
	}
	return a
}

func (s *Suppression) check() error {
	for _, f := range []struct{ name, v string }{{"Channel", s.Channel}, {"Address", s.Address}, {"Source", s.Source}, {"Detail", s.Detail}} {
		switch {
		case !utf8.ValidString(f.v):
			return &SuppressionError{Field: f.name, Reason: "is not valid UTF-8"}
		case strings.ContainsRune(f.v, 0):
			return &SuppressionError{Field: f.name, Reason: "contains a NUL byte"}
		}
	}
	s.Address = NormalizeAddress(s.Channel, s.Address) // (after the UTF-8 check: ToLower would replace bad bytes)
	switch {
	case s.Channel == "" || len(s.Channel) > 64:
		return &SuppressionError{Field: "Channel", Reason: fmt.Sprintf("%q must be 1-64 bytes (email, slack, ...)", s.Channel)}
	case s.Address == "" || len(s.Address) > 320:
		return &SuppressionError{Field: "Address", Reason: "must be 1-320 bytes"}
	case len(s.Source) > 200:
		return &SuppressionError{Field: "Source", Reason: "must be at most 200 bytes"}
	}
	if s.Reason == "" {
		s.Reason = ReasonManual
	}
	for _, r := range suppressionReasons {
		if s.Reason == r {
			s.Detail = truncate(s.Detail, 2000)
			return nil
		}
	}
	return &SuppressionError{Field: "Reason", Reason: fmt.Sprintf("%q is not one of %s", s.Reason, strings.Join(suppressionReasons, ", "))}
}

// Suppress adds s to the suppression list (or updates its reason and
// detail). Sends already under way are not recalled; every later one
// skips the address.
func Suppress(ctx context.Context, db *gorm.DB, s Suppression) error {
	if db == nil {
		return errNilDB
	}
	if err := s.check(); err != nil {
		return err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	err := db.WithContext(ctx).Exec(`INSERT INTO inbox_suppressions (channel, address, reason, source, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (channel, address) DO UPDATE SET reason = EXCLUDED.reason, source = EXCLUDED.source, detail = EXCLUDED.detail`,
		s.Channel, s.Address, s.Reason, s.Source, s.Detail, s.CreatedAt).Error
	if err != nil {
		return fmt.Errorf("inbox: suppress %s %s: %w", s.Channel, s.Address, err)
	}
	return nil
}

// Unsuppress removes an address from the list and reports whether it was
// there. Deliveries refused before stay refused; later ones are sent.
func Unsuppress(ctx context.Context, db *gorm.DB, channel, address string) (bool, error) {
	if db == nil {
		return false, errNilDB
	}
	res := db.WithContext(ctx).Exec(`DELETE FROM inbox_suppressions WHERE channel = ? AND address = ?`, channel, NormalizeAddress(channel, address))
	if res.Error != nil {
		return false, fmt.Errorf("inbox: unsuppress %s %s: %w", channel, address, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// Suppressed returns, among addresses, those on channel's suppression
// list, by address as given. One query.
func Suppressed(ctx context.Context, db *gorm.DB, channel string, addresses []string) (map[string]Suppression, error) {
	if db == nil {
		return nil, errNilDB
	}
	if len(addresses) == 0 {
		return nil, nil
	}
	norm := make(pgarray.Text, len(addresses))
	back := make(map[string][]string, len(addresses))
	for i, a := range addresses {
		norm[i] = NormalizeAddress(channel, a)
		back[norm[i]] = append(back[norm[i]], a)
	}
	var rows []Suppression
	err := rawscan.All(db.WithContext(ctx).Raw(`SELECT channel, address, reason, source, detail, created_at FROM inbox_suppressions
WHERE channel = ? AND address = ANY(?::text[])`, channel, norm), &rows)
	if err != nil {
		return nil, fmt.Errorf("inbox: read suppressions: %w", err)
	}
	out := make(map[string]Suppression, len(rows))
	for _, r := range rows {
		for _, a := range back[r.Address] {
			out[a] = r
		}
	}
	return out, nil
}

// ListSuppressions returns channel's suppressions ("" for every channel),
// newest first, at most limit (default 100, at most 1000), before the
// given time (zero: from the newest).
func ListSuppressions(ctx context.Context, db *gorm.DB, channel string, before time.Time, limit int) ([]Suppression, error) {
	if db == nil {
		return nil, errNilDB
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	if before.IsZero() {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var rows []Suppression
	err := db.WithContext(ctx).Raw(`SELECT channel, address, reason, source, detail, created_at FROM inbox_suppressions
WHERE (? = '' OR channel = ?) AND created_at < ? ORDER BY created_at DESC, channel, address LIMIT ?`, channel, channel, before, limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("inbox: list suppressions: %w", err)
	}
	return rows, nil
}

// StatusRefused is a ledger row of a recipient the sink refused for good:
// no retry of the delivery tries it again.
const StatusRefused Status = "refused"

// Refuse records that a claimed external effect was refused for good.
func (l *Ledger) Refuse(ctx context.Context, db *gorm.DB, key Key, cause error) error {
	msg := "refused"
	if cause != nil {
		msg = cause.Error()
	}
	return l.finish(ctx, db, key, StatusRefused, msg)
}

// RefusedError is the outcome of SendTo for a recipient refused for good.
type RefusedError struct {
	Recipient string
	Err       error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("inbox: %s refused for good: %v", e.Recipient, e.Err)
}
func (e *RefusedError) Unwrap() error        { return e.Err }
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// SendTo is Send with a per-recipient outcome: when send fails with a
// permanent error (Permanent), the recipient is recorded as refused (not
// tried again by any retry of this delivery) and SendTo returns a
// *RefusedError, which is not itself permanent: the caller goes on with
// the other recipients and the job need not fail for it. A temporary
// failure releases the claim, as Send does, and so does a
// MisconfiguredError (the sink refused the configuration, not the
// recipient), which SendTo returns as it is.
func (d *Delivery) SendTo(ctx context.Context, recipient string, send func(ctx context.Context) error) (bool, error) {
	key := d.Key(recipient)
	ok, err := d.Ledger.Claim(ctx, d.DB, key)
	if err != nil || !ok {
		return false, err
	}
	serr := send(ctx)
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	switch {
	case serr == nil:
		return true, d.Ledger.MarkSent(mctx, d.DB, key)
	case errors.Is(serr, ErrMisconfigured):
		// The sink refused the app's configuration, not this recipient:
		// release the claim, so a re-drive after the fix mails them.
		if rerr := d.Ledger.Release(mctx, d.DB, key, serr); rerr != nil {
			return false, errors.Join(serr, rerr)
		}
		return false, serr
	case IsPermanent(serr):
		var pe *PermanentError
		cause := serr
		if errors.As(serr, &pe) {
			cause = pe.Err
		}
		if rerr := d.Ledger.Refuse(mctx, d.DB, key, cause); rerr != nil {
			return false, errors.Join(serr, rerr)
		}
		return false, &RefusedError{Recipient: recipient, Err: cause}
	default:
		if rerr := d.Ledger.Release(mctx, d.DB, key, serr); rerr != nil {
			return false, errors.Join(serr, rerr)
		}
		return false, serr
	}
}
