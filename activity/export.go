package activity

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Roles a person takes in an event (see Domain.PersonEvents).
const (
	RoleActor     = "actor"
	RoleRecord    = "record"
	RoleSubject   = "subject"
	RoleRecipient = "recipient" // set by package privacy: notified of it
)

// DefaultExportBatch is how many events one query of PersonEvents reads.
const DefaultExportBatch = 1000

// RoleOf returns how p takes part in e: RoleActor, RoleRecord or
// RoleSubject (the first that holds, in that order), or "".
func (d *Domain) RoleOf(e Event, p Person) string {
	switch {
	case e.ActorType == p.Type && e.ActorID == p.ID:
		return RoleActor
	case e.RecordType != nil && e.RecordID != nil && *e.RecordType == p.Type && *e.RecordID == p.ID:
		return RoleRecord
	case d.subject.Table == p.Type && e.SubjectID == p.ID:
		return RoleSubject
	}
	return ""
}

// PersonEvents calls fn with every event of d in which p takes part, each
// once, with its role: first the events p did (RoleActor, newest first),
// then those about p as a record (RoleRecord), then, when d's subject table
// is p's type, those about p as the subject (RoleSubject). It reads batch
// events per query (0: DefaultExportBatch) with keyset pagination on the
// actor, record and subject indexes, so memory stays flat however many
// events p has; an error from fn stops it and is returned. Each batch is
// its own snapshot: an event recorded or throttled during the walk may be
// missed or (for a throttled repeat, whose time moves) seen twice.
//
// It reads the context's tenant's events only (see PersonValues): without
// a tenant on a tenanted domain it is ErrNoTenant, unless ctx is
// AcrossTenants. Events come whole: pass each through ForPerson before
// handing it to p.
func (d *Domain) PersonEvents(ctx context.Context, db *gorm.DB, p Person, batch int, fn func(role string, e Event) error) error {
	if db == nil {
		return ErrNilDB
	}
	if err := p.Ref().validate("person"); err != nil {
		return err
	}
	if batch <= 0 {
		batch = DefaultExportBatch
	}
	m, err := d.personMatch(ctx, p)
	if err != nil {
		return err
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
	cols := d.selectCols("")

	// newestFirst walks the events matching where, newest first, in
	// keyset pages of batch on (occurred_at, id).
	newestFirst := func(where string, whereArgs []any, role string) error {
		var lastAt time.Time
		var lastID int64
		for first := true; ; first = false {
			q := `SELECT ` + cols + ` FROM ` + d.table + ` WHERE ` + m.tenant + ` AND ` + where
			args := append(append([]any{}, m.tenantArgs...), whereArgs...)
			if !first {
				q += ` AND (occurred_at, id) < (?, ?)`
				args = append(args, lastAt, lastID)
			}
			q += ` ORDER BY occurred_at DESC, id DESC LIMIT ?`
			n, err := d.eachRow(db, q, append(args, batch), func(e Event) error {
				lastAt, lastID = e.OccurredAt, e.ID
				return fn(role, e)
			})
			if err != nil || n < batch {
				return err
			}
		}
	}

	// p's own acts, on the actor index.
	if err := newestFirst(`actor_type = ? AND actor_id = ?`, []any{p.Type, p.ID}, RoleActor); err != nil {
		return err
	}

	// Events about p as a record, not by p, in ID order.
	var lastID int64
	for {
		q := `SELECT ` + cols + ` FROM ` + d.table + ` WHERE ` + m.tenant + ` AND record_type = ? AND record_id = ? AND id > ?
  AND NOT (actor_type = ? AND actor_id = ?) ORDER BY id LIMIT ?`
		args := append(append([]any{}, m.tenantArgs...), p.Type, p.ID, lastID, p.Type, p.ID, batch)
		n, err := d.eachRow(db, q, args, func(e Event) error {
			lastID = e.ID
			return fn(RoleRecord, e)
		})
		if err != nil {
			return err
		}
		if n < batch {
			break
		}
	}

	// Events about p as the subject, neither by p nor about p as a record.
	if m.subject == "false" {
		return nil
	}
	return newestFirst(m.subject+`
  AND NOT (actor_type = ? AND actor_id = ?) AND NOT coalesce(record_type = ? AND record_id = ?, false)`,
		append(append([]any{}, m.subjectArgs...), p.Type, p.ID, p.Type, p.ID), RoleSubject)
}

// eachRow runs q and calls fn for each event; it returns the row count.
func (d *Domain) eachRow(db *gorm.DB, q string, args []any, fn func(Event) error) (int, error) {
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return 0, fmt.Errorf("activity: export %s events: %w", d.name, err)
	}
	defer rows.Close()
	// The batch is read whole before fn runs, so fn may query db (a
	// transaction has one connection, busy while rows are open).
	var page []Event
	for rows.Next() {
		var e Event
		if err := d.scan(rows, &e); err != nil {
			return 0, fmt.Errorf("activity: export %s events: %w", d.name, err)
		}
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("activity: export %s events: %w", d.name, err)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("activity: export %s events: %w", d.name, err)
	}
	for _, e := range page {
		if err := fn(e); err != nil {
			return 0, err
		}
	}
	return len(page), nil
}
