package slack

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes the Slack thread bookkeeping (table slack_threads)
// that names p (package privacy composes it with the others): the threads
// of subjects that are p (subjectDomains: the domains whose subject table
// is p's type, where p.ID is the subject key), and threads whose route or
// channel mentions one of p.Values (a direct message to their Slack user
// ID), in the context's tenant only (a person is an identity within a
// tenant: see inbox.PersonTenantCondition). A later event opens a new
// thread. The messages already in Slack are Slack's to erase.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person, subjectDomains []string) (activity.Erased, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil *gorm.DB", ErrInvalidConfig)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tenant, targs := inbox.PersonTenantCondition(ctx, "", true)
	args := append(append([]any{}, targs...), p.ID, pgarray.Text(subjectDomains), pgarray.Text(p.Patterns()), pgarray.Text(p.Values), pgarray.Text(p.Patterns()), pgarray.Text(p.Values))
	res := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Exec(`DELETE FROM slack_threads
WHERE `+tenant+` AND ((subject_id = ? AND domain = ANY(?))
   OR (lower(route) LIKE ANY(?) AND tidings_mentions(route, ?)) OR (lower(channel_id) LIKE ANY(?) AND tidings_mentions(channel_id, ?)))`, args...)
	if res.Error != nil {
		return nil, fmt.Errorf("slack: erase %s's threads: %w", p.Ref(), res.Error)
	}
	return activity.Erased{"slack_threads": res.RowsAffected}, nil
}
