package activity

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DefaultMaxBulk is the most events one RecordEvents call takes.
const DefaultMaxBulk = 10_000

// NewEvent is one event of a RecordEvents call.
type NewEvent struct {
	Subject any    // the subject row's key, as for RecordEvent
	Action  string // one of the domain's actions
	// Options of this event: Actor, Record, Extra, ExtraOf, OccurredAt.
	// They win over the call's options. Meta and ThrottleWithin are
	// refused here: metadata belongs to the whole call, and a bulk call
	// never throttles.
	Options []Option
}

// BulkResult says what RecordEvents did.
type BulkResult struct {
	// CorrelationID is shared by every event of the call: the context's
	// (or Meta's) correlation id, else its request id, else one made up
	// for the call ("bulk-" and 16 hex digits). Feeds filter by it, which
	// finds an import again later.
	CorrelationID string
	// Events are the recorded events, in the order of the entries.
	Events []Event
}

// RecordEvents records many events of the domain in one SQL statement (an
// unnest of one array per column, the outbox rows in the same statement):
// an import, a backfill. It is all or nothing, and joins db's transaction
// when db is one, like RecordEvent.
//
// opts apply to every entry (an Actor for all of them, Meta for the call);
// each entry's own Options win. Every entry is checked as RecordEvent checks
// one call, before anything is written; the first bad entry's error is
// returned inside a *BulkError that gives its index. ThrottleWithin is
// refused (ErrInvalidOption): collapsing repeats within one import is the
// caller's to decide. An empty entries slice records nothing. At most
// DefaultMaxBulk entries per call.
func (d *Domain) RecordEvents(ctx context.Context, db *gorm.DB, entries []NewEvent, opts ...Option) (BulkResult, error) {
	var res BulkResult
	var err error
	if b, ok := d.observer.(BulkObserver); ok { // metrics, tracing (see Observer)
		octx, end := b.RecordEventsStart(ctx, d, entries)
		res, err = d.recordEvents(octx, db, entries, opts)
		end(res, err)
	} else {
		res, err = d.recordEvents(ctx, db, entries, opts)
	}
	if err == nil && len(res.Events) > 0 {
		d.committed.fire(db) // a relay in this process (OnCommitted)
	}
	return res, err
}

func (d *Domain) recordEvents(ctx context.Context, db *gorm.DB, entries []NewEvent, opts []Option) (BulkResult, error) {
	if db == nil {
		return BulkResult{}, ErrNilDB
	}
	if len(entries) > DefaultMaxBulk {
		return BulkResult{}, &OptionError{Option: "entries", Reason: fmt.Sprintf("are %d, over the limit of %d per RecordEvents call: split the import into calls of at most %d (in one transaction if it must be all or nothing)", len(entries), DefaultMaxBulk, DefaultMaxBulk)}
	}
	var base recordCall
	if err := applyOptions(&base, opts); err != nil {
		return BulkResult{}, err
	}
	if base.throttled {
		return BulkResult{}, &OptionError{Option: ThrottleWithin(base.throttle).String(), Reason: "is not supported by RecordEvents: record repeats one by one with RecordEvent to throttle them"}
	}
	md, err := d.metadata(ctx, base, "")
	if err != nil {
		return BulkResult{}, err
	}
	tenant, err := d.recordTenant(ctx, base)
	if err != nil {
		return BulkResult{}, err
	}
	tags, err := tagsArg(ctx, opts)
	if err != nil {
		return BulkResult{}, err
	}
	if !md.correlationID.Valid {
		md.correlationID = nullString(newCorrelationID())
	}
	res := BulkResult{CorrelationID: md.correlationID.String}
	if len(entries) == 0 {
		return res, nil
	}

	n := len(entries)
	subjects, actions := make([]string, n), make([]string, n)
	actorTypes, actorIDs, actorLabels := make([]string, n), make([]string, n), make([]string, n)
	recTypes, recIDs, recLabels := make([]*string, n), make([]*string, n), make([]*string, n)
	extras, occurred := make([]string, n), make([]time.Time, n)
	var explicit []time.Time // times given with OccurredAt, checked against the partitions
	now := d.now()
	for i, e := range entries {
		c := base
		c.hasMeta = false
		for _, o := range e.Options {
			if o == nil {
				return res, &BulkError{Index: i, Err: &OptionError{Option: "options", Reason: "contain a nil Option"}}
			}
			switch o.(type) {
			case metaOption, throttleOption, tenantOption:
				return res, &BulkError{Index: i, Err: &OptionError{Option: fmt.Sprint(o), Reason: "is not allowed on one entry of RecordEvents: pass Meta to the call (InTenant too); ThrottleWithin is not supported in bulk"}}
			}
			o.applyRecord(&c)
		}
		action := d.Canonical(e.Action)
		r, err := d.prepareRow(ctx, db, e.Subject, action, c)
		if err != nil {
			return res, &BulkError{Index: i, Err: err}
		}
		subjects[i], actions[i] = fmt.Sprint(r.subject), action
		actorTypes[i], actorIDs[i], actorLabels[i] = r.actor.Type, r.actor.ID, r.actor.Label
		recTypes[i], recIDs[i], recLabels[i] = nullPtr(r.recType), nullPtr(r.recID), nullPtr(r.recLabel)
		extras[i] = r.extra
		occurred[i] = now
		if !r.occurredAt.IsZero() {
			occurred[i] = r.occurredAt
			if err := d.checkFuture(r.occurredAt, now); err != nil {
				return res, &BulkError{Index: i, Err: err}
			}
			explicit = append(explicit, r.occurredAt)
		}
	}
	if err := d.checkPartitions(ctx, db, explicit); err != nil {
		return res, err
	}
	stmt := d.sql.bulk
	if d.wake.take() {
		stmt = d.sql.bulkWake
	}
	args := []any{
		subjects, actions, actorTypes, actorIDs, actorLabels, recTypes, recIDs, recLabels, extras, occurred,
		now, md.requestID, md.correlationID, md.causeDomain, md.causeID, md.depth, md.source, md.ip, md.userAgent, md.traceParent, tags,
	}
	if d.tenant != "" {
		args = append(args, tenant)
	}
	rows, err := query(ctx, db, stmt, args)
	if err != nil {
		return res, d.writeError(nil, "(bulk)", err)
	}
	defer rows.Close()
	res.Events = make([]Event, 0, n)
	for rows.Next() {
		var missing sql.NullString
		if len(res.Events) == 0 {
			// The one row of a refusal has NULL event columns: look at the
			// first column before scanning the event.
			probe := make([]any, d.eventColumnCount()+1)
			probe[0] = &missing
			for k := 1; k < len(probe); k++ {
				probe[k] = new(any)
			}
			if err := rows.Scan(probe...); err != nil {
				return res, d.writeError(nil, "(bulk)", err)
			}
			if missing.Valid {
				for i, s := range subjects {
					if s == missing.String {
						return BulkResult{CorrelationID: res.CorrelationID}, &BulkError{Index: i, Err: d.missingSubject(entries[i].Subject)}
					}
				}
				return BulkResult{CorrelationID: res.CorrelationID}, d.missingSubject(missing.String)
			}
		}
		var ev Event
		if err := d.scan(rows, &ev, &missing); err != nil {
			return res, d.writeError(nil, "(bulk)", err)
		}
		res.Events = append(res.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return BulkResult{CorrelationID: res.CorrelationID}, d.writeError(nil, "(bulk)", err)
	}
	return res, nil
}

// BulkError reports which NewEvent of a RecordEvents call was refused, and
// why. errors.Is and errors.As see through it to the entry's error.
type BulkError struct {
	Index int // in the entries slice
	Err   error
}

func (e *BulkError) Error() string { return fmt.Sprintf("entry %d: %v", e.Index, e.Err) }
func (e *BulkError) Unwrap() error { return e.Err }

func nullPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// newCorrelationID makes up a correlation id for a bulk call that has none.
func newCorrelationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "bulk-" + hex.EncodeToString(b[:])
}
