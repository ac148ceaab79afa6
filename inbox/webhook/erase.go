package webhook

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson masks p's personal strings (p.Values) in webhook
// subscriptions' creators (table webhook_subscriptions; package privacy
// composes it with the others), in the context's tenant's subscriptions
// only (a person is an identity within a tenant: see
// inbox.PersonTenantCondition). URLs and secrets are left alone: masking
// them would break a subscription, and they name endpoints, not people.
// Deliveries are kept in the inbox ledger (see inbox.ErasePerson).
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	if db == nil {
		return nil, errors.New("webhook: erase: nil *gorm.DB")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tenant, targs := inbox.PersonTenantCondition(ctx, "", false)
	args := append(append([]any{pgarray.Text(p.Values)}, targs...), pgarray.Text(p.Patterns()))
	res := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Exec(`UPDATE webhook_subscriptions SET created_by = tidings_mask_text(created_by, ?)
WHERE `+tenant+` AND lower(created_by) LIKE ANY(?)`, args...)
	if res.Error != nil {
		return nil, fmt.Errorf("webhook: erase %s from webhook_subscriptions: %w", p.Ref(), res.Error)
	}
	return activity.Erased{"webhook_subscriptions": res.RowsAffected}, nil
}
