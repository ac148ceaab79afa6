package device

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/rawscan"
)

// MaxPerKind is how many addresses of one kind a person keeps: Register
// drops the least recently registered beyond it (a browser that lost its
// subscription without unsubscribing, an old phone), so one person's
// forgotten devices cannot make every event a hundred posts.
const MaxPerKind = 10

// ErrNilDB is returned by every call given a nil *gorm.DB.
var ErrNilDB = errors.New("device: nil *gorm.DB")

const columns = `id, tenant_id AS tenant, recipient, kind, address, p256dh, auth, label, created_at, updated_at`

// session is db for one call under ctx, joining the transaction db may be.
func session(ctx context.Context, db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{NewDB: true, Context: ctx})
}

// Register stores a (a person's web push subscription, device token or
// phone number) in the context's tenant (inbox.TenantOf; none: the
// untenanted rows), and returns it as stored. Registering an address the
// person has again updates its keys and label (a browser renews its
// subscription's keys on the same endpoint). A push address (web push, FCM,
// APNs) reaches one person at a time: registering it removes it from
// anyone else of the tenant who had it (they signed out on that device).
// Beyond MaxPerKind addresses of a kind, the person's least recently
// registered are dropped. An address that cannot be stored is an
// *InvalidError, before any write. db may be a transaction: Register joins
// it.
func Register(ctx context.Context, db *gorm.DB, a Address) (Address, error) {
	if db == nil {
		return Address{}, ErrNilDB
	}
	a, err := a.Normalize()
	if err != nil {
		return Address{}, err
	}
	cond, cargs := inbox.TenantKeyCondition(ctx, "")
	args := append(append([]any{}, cargs...), a.Kind, a.Address, a.Recipient, a.Kind.exclusive(),
		inbox.TenantOf(ctx), a.Recipient, a.Kind, a.Address, a.P256dh, a.Auth, a.Label)
	var out Address
	err = session(ctx, db).Raw(`WITH moved AS (
  DELETE FROM device_addresses WHERE `+cond+` AND kind = ? AND address = ? AND recipient <> ? AND ?::bool
)
INSERT INTO device_addresses (tenant_id, recipient, kind, address, p256dh, auth, label)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, kind, address, recipient) DO UPDATE SET p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
  label = CASE WHEN EXCLUDED.label = '' THEN device_addresses.label ELSE EXCLUDED.label END, updated_at = now()
RETURNING `+columns, args...).Scan(&out).Error
	if err != nil {
		return Address{}, fmt.Errorf("device: register %s for %s: %w", a.Kind, a.Recipient, err)
	}
	err = session(ctx, db).Exec(`DELETE FROM device_addresses WHERE id IN (
  SELECT id FROM device_addresses WHERE `+cond+` AND recipient = ? AND kind = ? ORDER BY updated_at DESC, id DESC OFFSET ?)`,
		append(append([]any{}, cargs...), a.Recipient, a.Kind, MaxPerKind)...).Error
	if err != nil {
		return Address{}, fmt.Errorf("device: register %s for %s: drop the oldest: %w", a.Kind, a.Recipient, err)
	}
	return out, nil
}

// Remove deletes recipient's address of kind in the context's tenant (a
// browser unsubscribed, a person removed their number), and reports
// whether there was one. The address is compared as Register stores it
// (a phone number normalized).
func Remove(ctx context.Context, db *gorm.DB, recipient string, kind Kind, address string) (bool, error) {
	if db == nil {
		return false, ErrNilDB
	}
	a, err := normalizedAddress(kind, address)
	if err != nil {
		return false, err
	}
	cond, cargs := inbox.TenantKeyCondition(ctx, "")
	res := session(ctx, db).Exec(`DELETE FROM device_addresses WHERE `+cond+` AND kind = ? AND address = ? AND recipient = ?`,
		append(cargs, kind, a, recipient)...)
	if res.Error != nil {
		return false, fmt.Errorf("device: remove %s of %s: %w", kind, recipient, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// normalizedAddress is address as Register stores an address of kind.
func normalizedAddress(kind Kind, address string) (string, error) {
	a := Address{Recipient: "-", Kind: kind, Address: address}
	switch kind {
	case WebPush, FCM, APNs, Phone:
	default:
		return "", &InvalidError{Field: "Kind", Code: "kind", Reason: fmt.Sprintf("%.40q is not one of webpush, fcm, apns, phone", string(kind))}
	}
	if kind == WebPush {
		return a.Address, text("Address", address, MaxAddress, true) // keys are not needed to name it
	}
	a, err := a.Normalize()
	return a.Address, err
}

// List returns recipient's addresses in the context's tenant, of the given
// kinds (every kind when none is given), the most recently registered
// first.
func List(ctx context.Context, db *gorm.DB, recipient string, kinds ...Kind) ([]Address, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	m, err := ListFor(ctx, db, []string{recipient}, kinds...)
	if err != nil {
		return nil, err
	}
	return m[recipient], nil
}

// ListFor returns the addresses of each of recipients in the context's
// tenant, of the given kinds (every kind when none is given), the most
// recently registered first, in one query: what an inbox reads for an
// event's recipients. A recipient without one is not in the map.
func ListFor(ctx context.Context, db *gorm.DB, recipients []string, kinds ...Kind) (map[string][]Address, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	out := map[string][]Address{}
	if len(recipients) == 0 {
		return out, nil
	}
	cond, cargs := inbox.TenantKeyCondition(ctx, "")
	ks := make([]string, len(kinds))
	for i, k := range kinds {
		ks[i] = string(k)
	}
	var rows []Address
	err := rawscan.All(session(ctx, db).Raw(`SELECT `+columns+` FROM device_addresses
WHERE `+cond+` AND recipient = ANY(?) AND (cardinality(?::text[]) = 0 OR kind = ANY(?))
ORDER BY recipient, updated_at DESC, id DESC`, append(cargs, pgarray.Text(recipients), pgarray.Text(ks), pgarray.Text(ks))...), &rows)
	if err != nil {
		return nil, fmt.Errorf("device: list: %w", err)
	}
	for _, r := range rows {
		out[r.Recipient] = append(out[r.Recipient], r)
	}
	return out, nil
}

// Gone removes an address the provider said no longer exists (web push
// 404 or 410, FCM UNREGISTERED, APNs 410 Unregistered or BadDeviceToken,
// a number the SMS provider says cannot receive), whoever of the
// context's tenant holds it, so no later event tries it: inboxes call it
// when they get that answer. It returns how many rows it removed.
func Gone(ctx context.Context, db *gorm.DB, kind Kind, address string) (int64, error) {
	if db == nil {
		return 0, ErrNilDB
	}
	cond, cargs := inbox.TenantKeyCondition(ctx, "")
	res := session(ctx, db).Exec(`DELETE FROM device_addresses WHERE `+cond+` AND kind = ? AND address = ?`, append(cargs, kind, address)...)
	if res.Error != nil {
		return 0, fmt.Errorf("device: remove gone %s: %w", kind, res.Error)
	}
	return res.RowsAffected, nil
}
