package main

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/measure"
)

// runRecord measures recording throughput at concurrency 8, 32 and 64:
// ours inside a gorm transaction (the like-for-like pair) and on the pool
// (autocommit: one statement writes the event and its outbox row, which
// River cannot do: its job is a second statement, so it needs the
// transaction), against River's transaction of the event row and
// InsertTx. Nothing works the jobs meanwhile, on either side.
func runRecord(ctx context.Context, b *bench) ([]measure.Figure, error) {
	if err := measure.ClearOutbox(ctx, b.db); err != nil {
		return nil, err
	}
	if err := clearRiver(ctx, b.pool); err != nil {
		return nil, err
	}
	inserter, err := riverInserter(b.pool, riverTuning{})
	if err != nil {
		return nil, err
	}
	sides := []func(ctx context.Context, w, i int) error{
		func(ctx context.Context, w, i int) error { // ours, in a transaction
			c := measure.RecordCall(w, i)
			return b.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				_, err := b.issues.RecordEvent(ctx, tx, c.Subject, c.Action, c.Options()...)
				return err
			})
		},
		func(ctx context.Context, w, i int) error { // ours, on the pool
			c := measure.RecordCall(w, i)
			_, err := b.issues.RecordEvent(ctx, b.db, c.Subject, c.Action, c.Options()...)
			return err
		},
		func(ctx context.Context, w, i int) error { // River: event row + InsertTx
			_, err := riverRecord(ctx, b.pool, inserter, measure.RecordCall(w, i), i)
			return err
		},
	}
	d := b.duration(2*time.Second, 300*time.Millisecond)
	warm := b.duration(500*time.Millisecond, 100*time.Millisecond)
	var figs []measure.Figure
	for _, workers := range []int{8, 32, 64} {
		for _, op := range sides { // connections open, statements prepared
			if _, err := measure.Throughput(ctx, workers, warm, op); err != nil {
				return nil, fmt.Errorf("warm up: %w", err)
			}
		}
		b.logf("record: %d workers, %d rounds of %s per side, 3 sides", workers, b.rounds, d)
		runs := make([]func() (float64, error), len(sides))
		for k, op := range sides {
			runs[k] = func() (float64, error) { return measure.Throughput(ctx, workers, d, op) }
		}
		m, err := measure.AlternateN(b.rounds, runs...)
		if err != nil {
			return nil, fmt.Errorf("concurrency %d: %w", workers, err)
		}
		inTx, onPool, rv := m[0], m[1], m[2]
		figs = append(figs,
			measure.Figure{Name: fmt.Sprintf("record in a transaction vs River (event row + InsertTx), concurrency %d", workers), Unit: "ev/s", Ours: inTx, Baseline: rv, Target: measure.Target{MinRatio: 1.5}},
			measure.Figure{Name: fmt.Sprintf("record on the pool vs River (event row + InsertTx), concurrency %d", workers), Unit: "ev/s", Ours: onPool, Baseline: rv, Target: measure.Target{MinRatio: 2}},
		)
	}
	b.note("record: ours is issues.RecordEvent(ctx, db, issue, \"comment_added\", Actor, Record, Extra{2 keys}) (the event row and its outbox row in one statement; wake-up at most every %s), in a gorm transaction (db.Transaction) and on the pool; River's is a pgx transaction on a pgxpool of the same size: INSERT of the same event row RETURNING id, then an insert-only client's InsertTx of a job carrying the id (River's insert notification at most once per its default FetchCooldown, 100ms), COMMIT. On the wire (log_min_duration_statement=0 on the bench database), a recording in a transaction is BEGIN, one statement (event, outbox row, and the wake-up when due), COMMIT: 3 round trips (on the pool, 1); River's is BEGIN, the event's INSERT, InsertTx's JobInsertFastMany, COMMIT: 4, and its PGNotifyMany at most once per cooldown. Nothing works either side's jobs meanwhile. Pools of %d connections; median of %d rotating rounds of %s per side.",
		activity.DefaultWakeInterval, b.poolSize, b.rounds, d)
	return figs, nil
}
