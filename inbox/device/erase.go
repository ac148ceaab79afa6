package device

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes p's addresses (table device_addresses; package
// privacy composes it with the other erasers), in the context's tenant
// only (inbox.PersonTenantCondition: a person is an identity within a
// tenant; every tenant only under activity.AcrossTenants without one):
// every address registered for p (recipient p.ID) is deleted, and so is
// any address of someone else that is one of p.Values (p's phone number
// that a housemate registered: it reaches p); labels of other addresses
// that mention one of p.Values are masked. Two statements.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cond, cargs := inbox.PersonTenantCondition(ctx, "", true)
	out := activity.Erased{}
	res := session(ctx, db).Exec(`DELETE FROM device_addresses WHERE `+cond+` AND (recipient = ? OR lower(address) = ANY(?))`,
		append(append([]any{}, cargs...), p.ID, pgarray.Text(p.LowerValues()))...)
	if res.Error != nil {
		return out, fmt.Errorf("device: erase %s's addresses: %w", p.Ref(), res.Error)
	}
	out.Add("device_addresses", res.RowsAffected)
	res = session(ctx, db).Exec(`UPDATE device_addresses SET label = tidings_mask_text(label, ?) WHERE `+cond+` AND lower(label) LIKE ANY(?)`,
		append(append([]any{pgarray.Text(p.Values)}, cargs...), pgarray.Text(p.Patterns()))...)
	if res.Error != nil {
		return out, fmt.Errorf("device: erase %s from address labels: %w", p.Ref(), res.Error)
	}
	out.Add("device_addresses", res.RowsAffected)
	return out, nil
}

// PersonAddresses returns every address registered for recipient in the
// context's tenant (every tenant's under activity.AcrossTenants with no
// tenant on ctx: see inbox.PersonTenantCondition), for a person's export.
func PersonAddresses(ctx context.Context, db *gorm.DB, recipient string) ([]Address, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	cond, cargs := inbox.PersonTenantCondition(ctx, "", true)
	var out []Address
	err := session(ctx, db).Raw(`SELECT `+columns+` FROM device_addresses WHERE `+cond+` AND recipient = ? ORDER BY tenant_id, kind, created_at, id`,
		append(cargs, recipient)...).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("device: addresses of %s: %w", recipient, err)
	}
	return out, nil
}
