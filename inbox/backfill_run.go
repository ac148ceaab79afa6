package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"time"

	"golang.org/x/time/rate"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/carryevents"
)

// Run hands the backfill's remaining events to its inbox, from its
// checkpoint on, until all are handed over (it returns the backfill, done),
// it is cancelled, or ctx is done (it returns ctx's error; run it again to
// resume). Enqueue failures (Redis down) are retried with the relay's
// backoff, the error kept as LastError meanwhile.
func (b *Backfiller) Run(ctx context.Context, id int64) (Backfill, error) {
	bf, err := b.Get(ctx, id)
	if err != nil {
		return bf, err
	}
	switch bf.Status {
	case BackfillDone, BackfillCancelled:
		return bf, nil
	}
	now := b.cfg.Now()
	if err := b.cfg.DB.WithContext(ctx).Exec(`UPDATE inbox_backfills SET status = 'running', run_started_at = ?, run_start_done = done,
    last_error = NULL, updated_at = ? WHERE id = ? AND status IN ('pending', 'running', 'failed')`, now, now, id).Error; err != nil {
		return bf, fmt.Errorf("inbox: start backfill %d: %w", id, err)
	}
	d := b.domains[bf.Query.Domain]
	rt := b.routes[bf.Inbox]
	if d == nil || rt == nil {
		err := fmt.Errorf("inbox: backfill %d goes from domain %q to inbox %q, which this backfiller does not serve", id, bf.Query.Domain, bf.Inbox)
		b.fail(ctx, id, err)
		return bf, err
	}
	size := b.cfg.BatchSize
	limit := rate.Inf
	if bf.Limit < math.MaxFloat64 {
		limit = rate.Limit(bf.Limit)
		size = max(1, min(size, int(bf.Limit)))
	}
	limiter := rate.NewLimiter(limit, size)
	lastLog := b.cfg.Now()
	failures := 0
	for {
		if err := limiter.WaitN(ctx, size); err != nil {
			return b.stopped(ctx, id, err)
		}
		finished, err := b.runBatch(ctx, id, d, rt, size)
		if ctx.Err() != nil {
			return b.stopped(ctx, id, ctx.Err())
		}
		if err != nil {
			failures++
			pause := backoff(b.relay.cfg.MinBackoff, b.relay.cfg.MaxBackoff, failures)
			b.note(ctx, id, err)
			if failures == 1 || failures%10 == 0 {
				b.log.LogAttrs(ctx, slog.LevelError, "inbox: backfill cannot hand events over; retrying from its checkpoint",
					slog.Int64("backfill", id), slog.Any("error", err), slog.Int("failures", failures), slog.Duration("pause", pause))
			}
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return b.stopped(ctx, id, ctx.Err())
			case <-t.C:
			}
			continue
		}
		failures = 0
		if finished || b.cfg.Now().Sub(lastLog) >= b.cfg.ProgressEvery {
			lastLog = b.cfg.Now()
			cur, err := b.Get(ctx, id)
			if err != nil {
				return cur, err
			}
			b.log.LogAttrs(ctx, slog.LevelInfo, "inbox: "+cur.String(), slog.Int64("backfill", id), slog.Int64("done", cur.Done),
				slog.Int64("total", cur.Total), slog.Float64("rate", cur.Rate()), slog.Duration("eta", cur.ETA()))
			if finished {
				return cur, nil
			}
		}
	}
}

// stopped returns the backfill as ctx ended it: still running, resumable.
func (b *Backfiller) stopped(ctx context.Context, id int64, err error) (Backfill, error) {
	bf, gerr := b.Get(context.WithoutCancel(ctx), id)
	if gerr != nil {
		return bf, gerr
	}
	return bf, err
}

// runBatch hands over one batch in one transaction: lock the row, read
// the events after the checkpoint, enqueue their jobs, move the checkpoint.
func (b *Backfiller) runBatch(ctx context.Context, id int64, d *activity.Domain, rt *route, size int) (finished bool, err error) {
	tx := b.cfg.DB.WithContext(ctx).Begin()
	if tx.Error != nil {
		return false, tx.Error
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	var row struct {
		Status string
		LastID int64
		MaxID  int64
		Query  []byte
	}
	if err := tx.Raw(`SELECT status, last_id, max_id, query FROM inbox_backfills WHERE id = ? FOR UPDATE`, id).Scan(&row).Error; err != nil {
		return false, fmt.Errorf("inbox: backfill %d: %w", id, err)
	}
	if row.Status != string(BackfillRunning) {
		return true, nil // cancelled (or finished) meanwhile
	}
	var q BackfillQuery
	if err := json.Unmarshal(row.Query, &q); err != nil {
		return false, fmt.Errorf("inbox: backfill %d: decode query: %w", id, err)
	}
	events, err := d.EventsAfter(activity.AcrossTenants(ctx), tx, q.history(), row.LastID, size)
	if err != nil {
		return false, err
	}
	for len(events) > 0 && events[len(events)-1].ID > row.MaxID {
		events = events[:len(events)-1]
	}
	now := b.cfg.Now()
	if len(events) == 0 {
		if err := tx.Exec(`UPDATE inbox_backfills SET status = 'done', finished_at = ?, updated_at = ?, last_error = NULL WHERE id = ?`, now, now, id).Error; err != nil {
			return false, err
		}
		committed = true
		return true, tx.Commit().Error
	}
	batch := make([]activity.OutboxRow, len(events))
	jobs := make([]job, len(events))
	var carried map[int64]json.RawMessage // jobs carry references, but in the bench's baseline
	if carryevents.On(ctx) {
		carried = make(map[int64]json.RawMessage, len(events))
	}
	for i, ev := range events {
		batch[i] = activity.OutboxRow{Domain: ev.Domain, EventID: ev.ID, Action: ev.Action, SubjectID: ev.SubjectID}
		jobs[i] = job{row: i, route: rt}
		if carried != nil {
			if enc, err := json.Marshal(ev); err == nil && len(enc) <= carryevents.MaxEventBytes {
				carried[ev.ID] = enc
			}
		}
	}
	b.relay.enqueue(ctx, batch, jobs, carried)
	dups := 0
	for _, j := range jobs {
		if j.err != nil {
			return false, fmt.Errorf("inbox: backfill %d: enqueue for inbox %s: %w", id, rt.name, j.err)
		}
		if j.dup {
			dups++
		}
	}
	if err := tx.Exec(`UPDATE inbox_backfills SET last_id = ?, done = done + ?, duplicates = duplicates + ?, updated_at = ?, last_error = NULL WHERE id = ?`,
		events[len(events)-1].ID, len(events), dups, now, id).Error; err != nil {
		return false, err
	}
	committed = true
	if err := tx.Commit().Error; err != nil {
		return false, err
	}
	return false, nil
}

// note keeps err as the backfill's last error.
func (b *Backfiller) note(ctx context.Context, id int64, err error) {
	_ = b.cfg.DB.WithContext(context.WithoutCancel(ctx)).Exec(`UPDATE inbox_backfills SET last_error = ?, updated_at = ? WHERE id = ?`,
		truncate(err.Error(), 2000), b.cfg.Now(), id).Error
}

func (b *Backfiller) fail(ctx context.Context, id int64, err error) {
	_ = b.cfg.DB.WithContext(context.WithoutCancel(ctx)).Exec(`UPDATE inbox_backfills SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?`,
		truncate(err.Error(), 2000), b.cfg.Now(), id).Error
}

// Cancel stops a backfill: a running Run returns after its batch, and Run
// does nothing for it any more. Events handed over stay handed over.
func (b *Backfiller) Cancel(ctx context.Context, id int64) error {
	res := b.cfg.DB.WithContext(ctx).Exec(`UPDATE inbox_backfills SET status = 'cancelled', finished_at = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'running', 'failed')`,
		b.cfg.Now(), b.cfg.Now(), id)
	if res.Error != nil {
		return fmt.Errorf("inbox: cancel backfill %d: %w", id, res.Error)
	}
	return nil
}

// Get returns the backfill with id, or an error wrapping
// ErrBackfillNotFound.
func (b *Backfiller) Get(ctx context.Context, id int64) (Backfill, error) {
	return GetBackfill(ctx, b.cfg.DB, id, b.cfg.Now)
}

// ListBackfills returns the newest backfills first, at most limit (1 to
// 1000), for tools and pages that only read progress.
func ListBackfills(ctx context.Context, db *gorm.DB, limit int) ([]Backfill, error) {
	if limit < 1 || limit > 1000 {
		return nil, &ConfigError{Field: "limit", Reason: fmt.Sprintf("is %d; allowed: 1 to 1000", limit)}
	}
	return loadBackfills(ctx, db, time.Now, `ORDER BY id DESC LIMIT ?`, limit)
}

// GetBackfill reads one backfill's progress (now is the clock its Rate and
// ETA are measured against; nil means time.Now).
func GetBackfill(ctx context.Context, db *gorm.DB, id int64, now func() time.Time) (Backfill, error) {
	if now == nil {
		now = time.Now
	}
	bs, err := loadBackfills(ctx, db, now, `WHERE id = ?`, id)
	if err != nil {
		return Backfill{}, err
	}
	if len(bs) == 0 {
		return Backfill{}, fmt.Errorf("%w: %d", ErrBackfillNotFound, id)
	}
	return bs[0], nil
}

func loadBackfills(ctx context.Context, db *gorm.DB, now func() time.Time, clause string, args ...any) ([]Backfill, error) {
	rows, err := db.WithContext(ctx).Raw(`SELECT id, inbox, query, status, done, total, duplicates, last_id, max_id, rate, created_by,
    created_at, updated_at, run_started_at, finished_at, coalesce(last_error, ''), run_start_done FROM inbox_backfills `+clause, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("inbox: read backfills: %w", err)
	}
	defer rows.Close()
	var out []Backfill
	for rows.Next() {
		var bf Backfill
		var q []byte
		var status string
		if err := rows.Scan(&bf.ID, &bf.Inbox, &q, &status, &bf.Done, &bf.Total, &bf.Duplicates, &bf.LastID, &bf.MaxID, &bf.Limit, &bf.CreatedBy,
			&bf.CreatedAt, &bf.UpdatedAt, &bf.RunStartedAt, &bf.FinishedAt, &bf.LastError, &bf.runStartDone); err != nil {
			return nil, fmt.Errorf("inbox: read backfills: %w", err)
		}
		bf.Status = BackfillStatus(status)
		if err := json.Unmarshal(q, &bf.Query); err != nil {
			return nil, fmt.Errorf("inbox: backfill %d: decode query: %w", bf.ID, err)
		}
		bf.now = now()
		out = append(out, bf)
	}
	return out, rows.Err()
}
