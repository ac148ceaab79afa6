package notify

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes or masks p's personal data in the notification
// tables (package privacy composes it with the others), in the context's
// tenant only (inbox.PersonTenantCondition: a person is an identity within
// a tenant; every tenant only under activity.AcrossTenants without one):
// p's own notifications (recipient p.ID) and stream heads are deleted; in
// everyone else's, the copied labels of events p did (actor) or is the
// record of become activity.ErasedLabel, and labels that mention one of
// p.Values are masked. In collapsed notifications' actors (a list of
// activity.Ref), p's entry gets activity.ErasedLabel and every other label
// that mentions one of p.Values is masked. Three statements; the last
// scans the tenant's notifications once.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	tenant, targs := inbox.PersonTenantCondition(ctx, "", false)
	headTenant, htargs := inbox.PersonTenantCondition(ctx, "", true)
	out := activity.Erased{}
	res := db.Exec(`DELETE FROM notifications WHERE `+tenant+` AND recipient = ?`, append(append([]any{}, targs...), p.ID)...)
	if res.Error != nil {
		return out, fmt.Errorf("notify: erase %s's notifications: %w", p.Ref(), res.Error)
	}
	out.Add("notifications", res.RowsAffected)
	res = db.Exec(`DELETE FROM notification_heads WHERE `+headTenant+` AND recipient = ?`, append(append([]any{}, htargs...), p.ID)...)
	if res.Error != nil {
		return out, fmt.Errorf("notify: erase %s's stream heads: %w", p.Ref(), res.Error)
	}
	out.Add("notification_heads", res.RowsAffected)
	args := []any{p.Type, p.ID, activity.ErasedLabel, vals, p.Type, p.ID, activity.ErasedLabel, vals,
		p.Type, p.ID, activity.ErasedLabel, vals}
	args = append(args, targs...)
	args = append(args, p.Type, p.ID, p.Type, p.ID, pats, pats, p.Type, p.ID, p.Type, p.ID, pats)
	res = db.Exec(`UPDATE notifications SET
  actor_label = CASE WHEN actor_type = ? AND actor_id = ? THEN ? ELSE tidings_mask_text(actor_label, ?) END,
  record_label = CASE WHEN record_type = ? AND record_id = ? THEN ? ELSE tidings_mask_text(record_label, ?) END,
  actors = `+actorsMask+`
WHERE `+tenant+` AND ((actor_type = ? AND actor_id = ?) OR (record_type = ? AND record_id = ?)
   OR lower(actor_label) LIKE ANY(?) OR lower(record_label) LIKE ANY(?)
   OR actors @> jsonb_build_array(jsonb_build_object('type', ?::text, 'id', ?::text))
   OR actors @> jsonb_build_array(jsonb_build_object('Type', ?::text, 'ID', ?::text)) OR lower(actors::text) LIKE ANY(?))`, args...)
	if res.Error != nil {
		return out, fmt.Errorf("notify: erase %s from others' notifications: %w", p.Ref(), res.Error)
	}
	out.Add("notifications", res.RowsAffected)
	return out, nil
}

// EachOf calls fn with every notification of recipient in the context's
// tenant (untenanted ones without a tenant; every tenant's only under
// activity.AcrossTenants without one: see inbox.PersonTenantCondition), in
// Seq order (each tenant's stream oldest first; equal Seqs of two tenants'
// streams in tenant order), reading batch rows per query (0: 1000) by
// keyset on (Seq, tenant), so memory stays flat. An error from fn stops it
// and is returned. It serves exports of a person's data (package privacy).
func EachOf(ctx context.Context, db *gorm.DB, recipient string, batch int, fn func(Notification) error) error {
	if db == nil {
		return ErrNilDB
	}
	if batch <= 0 {
		batch = 1000
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
	tenant, targs := inbox.PersonTenantCondition(ctx, "", false)
	var after int64
	afterTenant := ""
	for {
		args := append(append([]any{}, targs...), recipient, after, after, afterTenant, batch)
		rows, err := db.Raw(`SELECT `+columns+` FROM notifications
WHERE `+tenant+` AND recipient = ? AND seq >= ? AND (seq > ? OR coalesce(tenant_id, '') > ?)
ORDER BY seq, coalesce(tenant_id, '') LIMIT ?`, args...).Rows()
		if err != nil {
			return fmt.Errorf("notify: read %s's notifications: %w", recipient, err)
		}
		// The batch is read whole before fn runs, so fn may query db (a
		// transaction has one connection, busy while rows are open).
		page := make([]Notification, 0, batch)
		for rows.Next() {
			var x Notification
			if err := scanNotification(rows, &x); err != nil {
				rows.Close()
				return fmt.Errorf("notify: read %s's notifications: %w", recipient, err)
			}
			page = append(page, x)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("notify: read %s's notifications: %w", recipient, err)
		}
		for _, x := range page {
			after, afterTenant = x.Seq, x.Tenant
			if err := fn(x); err != nil {
				return err
			}
		}
		n := len(page)
		if n < batch {
			return nil
		}
	}
}

// actorsMask is the expression that masks a person in a collapsed
// notification's actors ([{"type","id","label"}], activity.Ref's JSON;
// lists written before Ref had its tags use "Type", "ID" and "Label"): the
// entry of the person (its type and id, two arguments) takes the erased
// label (third), then every string mentioning one of the values (fourth)
// is masked. Other shapes are only masked; NULL stays NULL.
const actorsMask = `tidings_mask_jsonb(CASE WHEN jsonb_typeof(actors) = 'array' THEN coalesce((
    SELECT jsonb_agg(CASE WHEN coalesce(a->>'type', a->>'Type') = ? AND coalesce(a->>'id', a->>'ID') = ?
      THEN a - 'Label' || jsonb_build_object('label', ?::text) ELSE a END ORDER BY i)
      FROM jsonb_array_elements(actors) WITH ORDINALITY AS e(a, i)), '[]'::jsonb)
  ELSE actors END, ?)`
