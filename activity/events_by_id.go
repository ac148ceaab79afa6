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
