package activity

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"time"

	"gorm.io/gorm"
)

// HistoryQuery selects the events a history helper looks at; fields mean
// what they mean in FeedQuery.
type HistoryQuery struct {
	Subject       any
	SubjectsIn    *gorm.DB
	Actor         any
	Record        any
	Actions       []string
	Since, Until  time.Time
	CorrelationID string
	Tags          map[string]string
	Retracted     RetractedFilter
	// Subjects restricts the events to these subjects' keys, as text.
	Subjects []string
	// Tenant scopes a tenanted domain's history; default the context's
	// (WithTenant). Refused on an untenanted domain.
	Tenant any
}

func (q HistoryQuery) filter() filter {
	return filter{Subject: q.Subject, SubjectsIn: q.SubjectsIn, Actor: q.Actor, Record: q.Record,
		Actions: q.Actions, Since: q.Since, Until: q.Until, CorrelationID: q.CorrelationID,
		Tags: q.Tags, Retracted: q.Retracted, Subjects: q.Subjects, Tenant: q.Tenant}
}

// CountByAction counts events per action ("how often was a comment deleted
// in this account last month?"), in one query. Throttled repeats count once;
// add Repeats through Replay when every occurrence matters.
func (d *Domain) CountByAction(ctx context.Context, db *gorm.DB, q HistoryQuery) (map[string]int64, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	tx, err := d.filter(ctx, db, q.filter())
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Action string
		N      int64
	}
	if err := tx.Select("e.action, count(*) AS n").Group("e.action").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("activity: count %s events: %w", d.name, err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Action] = r.N
	}
	return out, nil
}

// LastOccurred returns when the latest matching event occurred, for
// backfills such as last_commented_at; ok is false when none matched.
func (d *Domain) LastOccurred(ctx context.Context, db *gorm.DB, q HistoryQuery) (at time.Time, ok bool, err error) {
	if db == nil {
		return time.Time{}, false, ErrNilDB
	}
	tx, err := d.filter(ctx, db, q.filter())
	if err != nil {
		return time.Time{}, false, err
	}
	var t sql.NullTime
	if err := tx.Select("max(e.occurred_at)").Row().Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("activity: last %s event: %w", d.name, err)
	}
	if !t.Valid {
		return time.Time{}, false, nil
	}
	return t.Time, true, nil
}

// DefaultReplayBatch is how many events Replay reads per query.
const DefaultReplayBatch = 1000

// Replay iterates over matching events oldest first, for replays and
// backfills. It reads batchSize events per keyset query (0 means
// DefaultReplayBatch), so memory stays flat whatever the table's size. The
// iteration stops at the first error, which it yields.
//
//	for e, err := range issues.Replay(ctx, db, q, 0) { ... }
func (d *Domain) Replay(ctx context.Context, db *gorm.DB, q HistoryQuery, batchSize int) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if db == nil {
			yield(Event{}, ErrNilDB)
			return
		}
		if batchSize <= 0 {
			batchSize = DefaultReplayBatch
		}
		var last *Event
		for {
			tx, err := d.filter(ctx, db, q.filter())
			if err != nil {
				yield(Event{}, err)
				return
			}
			if last != nil {
				tx = tx.Where("(e.occurred_at, e.id) > (?, ?)", last.OccurredAt, last.ID)
			}
			batch, err := d.scanAll(tx.Select(d.selectCols("e.")).Order("e.occurred_at, e.id").Limit(batchSize))
			if err != nil {
				yield(Event{}, fmt.Errorf("activity: replay %s: %w", d.name, err))
				return
			}
			for i := range batch {
				if !yield(batch[i], nil) {
					return
				}
			}
			if len(batch) < batchSize {
				return
			}
			last = &batch[len(batch)-1]
		}
	}
}

func (d *Domain) scanAll(tx *gorm.DB) ([]Event, error) {
	rows, err := tx.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := d.scan(rows, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
