package activity

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// EventsByID loads the events with the given IDs in one query and returns
// them keyed by ID; an ID without an event is absent from the map. It is
// for consumers that handle many events at once (the inbox worker
// batches the events of concurrent jobs through it).
func (d *Domain) EventsByID(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]Event, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	out := make(map[int64]Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	stmt, args, err := d.byID(ctx, d.sql.byIDs, d.sql.byIDsAll, pgarray.Int8(ids))
	if err != nil {
		return nil, err
	}
	// On a pgx connection the ids go as a bigint[] in binary, and the rows
	// are decoded lean (rowdecode.go); elsewhere as an array literal.
	pgxArgs := append([]any{ids}, args[1:]...)
	es := d.eventScan()
	err = queryRowsWith(ctx, db, stmt, args, pgxArgs, func(s scanner) error {
		var e Event
		if err := es.scan(s, &e); err != nil {
			return err
		}
		out[e.ID] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("activity: load %d %s events: %w", len(ids), d.name, err)
	}
	return out, nil
}

// EventsByIDAnd is EventsByID for ids, plus, in the same query, the events
// of more for which cond holds: an SQL condition on the event's row
// (alias e; e.id its id), with ? placeholders for args, written by the
// caller from constants (never from input). The inbox worker's loader
// reads events ahead of its jobs with it, keeping only those whose jobs
// the relay committed (an EXISTS on inbox_pending). Without more it is
// EventsByID.
func (d *Domain) EventsByIDAnd(ctx context.Context, db *gorm.DB, ids, more []int64, cond string, args ...any) (map[int64]Event, error) {
	if len(more) == 0 {
		return d.EventsByID(ctx, db, ids)
	}
	if db == nil {
		return nil, ErrNilDB
	}
	across := fmt.Sprintf(`SELECT %s FROM %s e WHERE (e.id = ANY(?::bigint[]) OR e.id = ANY(?::bigint[]) AND (%s))`, d.selectCols("e."), d.table, cond)
	scoped := across
	if d.tenant != "" {
		scoped += " AND e.tenant_id = ?::" + string(d.tenant)
	}
	stmt, targs, err := d.byID(ctx, numbered(scoped), numbered(across), pgarray.Int8(ids))
	if err != nil {
		return nil, err
	}
	// ids, more, cond's args, then the tenant (a scoped read's).
	qargs := append(append([]any{targs[0], pgarray.Int8(more)}, args...), targs[1:]...)
	pgxArgs := append(append([]any{ids, more}, args...), targs[1:]...)
	out := make(map[int64]Event, len(ids)+len(more))
	es := d.eventScan()
	err = queryRowsWith(ctx, db, stmt, qargs, pgxArgs, func(s scanner) error {
		var e Event
		if err := es.scan(s, &e); err != nil {
			return err
		}
		out[e.ID] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("activity: load %d %s events and %d more: %w", len(ids), d.name, len(more), err)
	}
	return out, nil
}
