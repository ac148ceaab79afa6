package activity

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// EventsAfter returns up to limit matching events with IDs above afterID,
// in ID order: the resumable read of backfills and projection rebuilds,
// whose checkpoint is the last ID they handled. (IDs are assigned at
// insert, so an event committed later may have a smaller ID than one read
// already: readers that must see every event also take live deliveries,
// as projections do, or read once recording has moved past their range.)
func (d *Domain) EventsAfter(ctx context.Context, db *gorm.DB, q HistoryQuery, afterID int64, limit int) ([]Event, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	if limit <= 0 || limit > 100_000 {
		return nil, &QueryError{Field: "limit", Reason: fmt.Sprintf("is %d; allowed: 1 to 100,000", limit)}
	}
	tx, err := d.filter(ctx, db, q.filter())
	if err != nil {
		return nil, err
	}
	evs, err := d.scanAll(tx.Where("e.id > ?", afterID).Select(d.selectCols("e.")).Order("e.id").Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("activity: read %s events after %d: %w", d.name, afterID, err)
	}
	return evs, nil
}

// Count returns how many events match q, and the largest matching ID.
func (d *Domain) Count(ctx context.Context, db *gorm.DB, q HistoryQuery) (n, maxID int64, err error) {
	if db == nil {
		return 0, 0, ErrNilDB
	}
	tx, err := d.filter(ctx, db, q.filter())
	if err != nil {
		return 0, 0, err
	}
	var row struct {
		N     int64
		MaxID int64
	}
	if err := tx.Select("count(*) AS n, coalesce(max(e.id), 0) AS max_id").Scan(&row).Error; err != nil {
		return 0, 0, fmt.Errorf("activity: count %s events: %w", d.name, err)
	}
	return row.N, row.MaxID, nil
}
