package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/measure"
)

// recordGroup measures recording throughput against the floor (raw pgx,
// the same event + outbox statement without any notification), the seed's
// hand-written approach, and the old per-event pg_notify; and bulk
// recording against a raw unnest.
func recordGroup() group {
	return group{
		name:  "record",
		about: "recording throughput at concurrency 8, 32 and 64 against raw pgx without notification, the seed's gorm+Enqueue, and a pg_notify per event; bulk against raw unnest",
		run:   runRecord,
	}
}

// recordCall is the i-th recording of worker w (measure.RecordCall, which
// the peer benchmarks record too).
func recordCall(w, i int) call { return call(measure.RecordCall(w, i)) }

// seedEvent is the events table as the seed's app maps it with gorm.
type seedEvent struct {
	ID          int64 `gorm:"primaryKey;default:nextval('activity_event_id_seq')"`
	SubjectID   int64
	Action      string
	ActorType   string
	ActorID     string
	ActorLabel  string
	RecordType  string
	RecordID    string
	RecordLabel string
	Extra       string `gorm:"type:jsonb"`
	OccurredAt  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (seedEvent) TableName() string { return "issue_events" }

// seedRecord is what an app writes by hand from the seed: a gorm
// transaction that inserts the event, then, after the commit, an asynq
// Enqueue of its job. (Were the process to die between the two, the job
// would be lost: the outbox exists to close that gap.)
func seedRecord(ctx context.Context, db *gorm.DB, client *asynq.Client, c call) error {
	extra, err := json.Marshal(map[string]any(c.Extra))
	if err != nil {
		return err
	}
	now := time.Now()
	ev := seedEvent{SubjectID: c.Subject, Action: c.Action, ActorType: c.Actor.Type, ActorID: c.Actor.ID, ActorLabel: c.Actor.Label,
		RecordType: c.Record.Type, RecordID: c.Record.ID, RecordLabel: c.Record.Label, Extra: string(extra), OccurredAt: now, CreatedAt: now, UpdatedAt: now}
	if err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return tx.Create(&ev).Error }); err != nil {
		return fmt.Errorf("seed record: %w", err)
	}
	if _, err := client.EnqueueContext(ctx, asynq.NewTask("issue:"+c.Action, []byte(strconv.FormatInt(ev.ID, 10)))); err != nil {
		return fmt.Errorf("seed record: enqueue: %w", err)
	}
	return nil
}

func runRecord(ctx context.Context, b *bench) ([]figure, error) {
	pool, err := newPool(ctx, b.dsn, b.poolSize)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := flushBenchRedis(ctx); err != nil {
		return nil, err
	}
	client := asynq.NewClient(benchRedis())
	defer client.Close()
	defer flushBenchRedis(context.WithoutCancel(ctx)) //nolint:errcheck // the seed side's jobs nobody runs

	sides := []func(ctx context.Context, w, i int) error{
		func(ctx context.Context, w, i int) error { // ours
			c := recordCall(w, i)
			_, err := b.issues.RecordEvent(ctx, b.db, c.Subject, c.Action, c.options()...)
			return err
		},
		func(ctx context.Context, w, i int) error { // the floor
			_, err := baselineRecord(ctx, pool, baselineInsertSQL, recordCall(w, i))
			return err
		},
		func(ctx context.Context, w, i int) error { // the seed's approach
			return seedRecord(ctx, b.db, client, recordCall(w, i))
		},
		func(ctx context.Context, w, i int) error { // a pg_notify per event
			_, err := baselineRecord(ctx, pool, baselineNotifySQL, recordCall(w, i))
			return err
		},
	}

	d := b.duration(roundLength, 300*time.Millisecond)
	warm := b.duration(500*time.Millisecond, 100*time.Millisecond)
	var figs []figure
	for _, workers := range []int{8, 32, 64} {
		// Open the connections and prepare the statements of every side
		// before anything is timed.
		for _, op := range sides {
			if _, err := throughput(ctx, workers, warm, op); err != nil {
				return nil, fmt.Errorf("record: warm up: %w", err)
			}
		}
		b.logf("record: %d workers, %d rounds of %s per side, 4 sides", workers, b.rounds, d)
		runs := make([]func() (float64, error), len(sides))
		for k, op := range sides {
			runs[k] = func() (float64, error) { return throughput(ctx, workers, d, op) }
		}
		m, err := alternateN(b.rounds, runs...)
		if err != nil {
			return nil, fmt.Errorf("record at concurrency %d: %w", workers, err)
		}
		ours, floor, seed, notify := m[0], m[1], m[2], m[3]
		figs = append(figs,
			figure{Name: fmt.Sprintf("record vs raw pgx without notify, concurrency %d", workers), Unit: "ev/s", Ours: ours, Baseline: floor, Target: target{MinRatio: 0.9}},
			figure{Name: fmt.Sprintf("record vs seed's gorm tx + Enqueue, concurrency %d", workers), Unit: "ev/s", Ours: ours, Baseline: seed, Target: target{MinRatio: 1.0}},
			figure{Name: fmt.Sprintf("old baseline: raw pgx with a pg_notify per event, concurrency %d", workers), Unit: "ev/s", Ours: notify, Baseline: floor},
		)
	}
	b.note("record: issues.RecordEvent(ctx, gormDB, issue, \"comment_added\", Actor(Ref), Record(Ref), Extra{2 keys}) (wake-up at most every %s) against: raw pgx (pgxpool) running the event + outbox CTE with no notification and no subject check (the floor; the table has no foreign key since deleting a subject keeps its history, and ours checks the subject in its statement: the lifecycle group measures that check against a foreign key); the seed's approach, a gorm transaction inserting the event then asynq Enqueue after commit (loses the job if the process dies in between); and the old design's row, the same raw statement with a pg_notify per event, against the floor. Pools of %d connections; median of %d rotating rounds of %s per side.",
		activity.DefaultWakeInterval, b.poolSize, b.rounds, d)

	bulk, err := recordBulk(ctx, b, pool)
	if err != nil {
		return nil, err
	}
	return append(figs, bulk), nil
}

// bulkSize is how many events one bulk call records.
const bulkSize = 1000

// baselineBulkSQL records a batch by hand: one array per column, unnest,
// the outbox rows in the same statement, the subjects left to the foreign
// key.
const baselineBulkSQL = `WITH ev AS (INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at, correlation_id) ` +
	`SELECT s, a, at, ai, al, rt, ri, rl, x, o, o, o, $11 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::timestamptz[]) ` +
	`AS u(s, a, at, ai, al, rt, ri, rl, x, o) RETURNING *), ` +
	`ob AS (INSERT INTO activity_outbox (domain, event_id, action, subject_id) SELECT 'issue', id, action, subject_id::text FROM ev) ` +
	`SELECT ` + baselineSelectList + ` FROM ev e`

// recordBulk measures RecordEvents of bulkSize events per call against
// baselineBulkSQL through raw pgx, at concurrency 4.
func recordBulk(ctx context.Context, b *bench, pool *pgxpool.Pool) (figure, error) {
	const workers = 4
	ours := func(ctx context.Context, w, i int) error {
		evs := make([]activity.NewEvent, bulkSize)
		for k := range evs {
			c := recordCall(w, i*bulkSize+k)
			evs[k] = activity.NewEvent{Subject: c.Subject, Action: c.Action, Options: c.options()}
		}
		res, err := b.issues.RecordEvents(ctx, b.db, evs, activity.Meta(activity.Metadata{CorrelationID: "bench-import"}))
		if err == nil && len(res.Events) != bulkSize {
			err = fmt.Errorf("record bulk: %d events, want %d", len(res.Events), bulkSize)
		}
		return err
	}
	raw := func(ctx context.Context, w, i int) error {
		subj := make([]int64, bulkSize)
		text := make([][]string, 8) // action, actor type/id/label, record type/id/label, extra
		for k := range text {
			text[k] = make([]string, bulkSize)
		}
		at := make([]time.Time, bulkSize)
		now := time.Now()
		for k := range bulkSize {
			c := recordCall(w, i*bulkSize+k)
			extra, err := json.Marshal(map[string]any(c.Extra))
			if err != nil {
				return err
			}
			subj[k], at[k] = c.Subject, now
			for col, v := range []string{c.Action, c.Actor.Type, c.Actor.ID, c.Actor.Label, c.Record.Type, c.Record.ID, c.Record.Label, string(extra)} {
				text[col][k] = v
			}
		}
		rows, err := pool.Query(ctx, baselineBulkSQL, subj, text[0], text[1], text[2], text[3], text[4], text[5], text[6], text[7], at, "bench-import")
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var e activity.Event
			if err := scanBaseline(rows, &e); err != nil {
				rows.Close()
				return err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n != bulkSize {
			return fmt.Errorf("raw bulk: %d events, want %d", n, bulkSize)
		}
		return nil
	}
	d := b.duration(roundLength, 300*time.Millisecond)
	for _, op := range []func(context.Context, int, int) error{ours, raw} {
		if _, err := throughput(ctx, workers, b.duration(500*time.Millisecond, 100*time.Millisecond), op); err != nil {
			return figure{}, fmt.Errorf("record bulk: warm up: %w", err)
		}
	}
	b.logf("record: bulk, %d events per call, %d workers, %d rounds of %s per side", bulkSize, workers, b.rounds, d)
	o, r, err := alternate(b.rounds,
		func() (float64, error) { return throughput(ctx, workers, d, ours) },
		func() (float64, error) { return throughput(ctx, workers, d, raw) })
	if err != nil {
		return figure{}, fmt.Errorf("record bulk: %w", err)
	}
	b.note("record bulk: issues.RecordEvents of %d events per call (validated as RecordEvent validates each, one statement, subjects checked in it) against raw pgx sending the same columns as arrays to an unnest INSERT with the outbox rows in the same statement; %d workers; median of %d alternating rounds of %s.",
		bulkSize, workers, b.rounds, d)
	return figure{Name: fmt.Sprintf("bulk record, %d events per call, vs raw unnest", bulkSize), Unit: "ev/s", Ours: o * bulkSize, Baseline: r * bulkSize, Target: target{MinRatio: 0.5}}, nil
}
