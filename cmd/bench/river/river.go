package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tidingsdev/tidings/internal/measure"
)

// eventJob is River's job for an event: what the worker needs to find it
// (the event's id, as our jobs carry references) and the index of the
// recording, for the latency figures.
type eventJob struct {
	EventID int64 `json:"event_id"`
	Index   int   `json:"index"`
}

func (eventJob) Kind() string { return "issue_event" }

// migrateRiver applies River's migrations to the bench database (its
// river_job, river_leader, river_queue, ... tables beside ours).
func migrateRiver(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river: migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river: migrate: %w", err)
	}
	return nil
}

// riverTuning is River's side of a figure: its defaults, or its fetch
// settings turned for latency.
type riverTuning struct {
	Name          string
	FetchCooldown time.Duration // 0: River's default (100ms)
	FetchPoll     time.Duration // 0: River's default (1s)
}

func (b *bench) riverDefaults() riverTuning { return riverTuning{Name: "defaults"} }

func (b *bench) riverTuned() riverTuning {
	return riverTuning{Name: "tuned for latency", FetchCooldown: b.river.FetchCooldown, FetchPoll: b.river.FetchPoll}
}

func (t riverTuning) String() string {
	return fmt.Sprintf("%s: FetchCooldown %s, FetchPollInterval %s", t.Name,
		cmpOr(t.FetchCooldown, river.FetchCooldownDefault), cmpOr(t.FetchPoll, river.FetchPollIntervalDefault))
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// riverInserter is an insert-only River client (no queues, no workers)
// on the app's pool: what an app's request handlers insert with. Its
// FetchCooldown, t's, limits its insert notifications to one per
// cooldown per queue.
func riverInserter(pool *pgxpool.Pool, t riverTuning) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: measure.QuietLogger(), FetchCooldown: t.FetchCooldown})
}

// riverWorker is a River client that works the default queue with b's
// MaxWorkers, tuned by t, running work for each job, on a pool of its own
// (b.workerPool) as our worker has its own connections: the app's
// recordings do not wait for its fetches and completions, nor they for
// the recordings.
func (b *bench) riverWorker(t riverTuning, work func(ctx context.Context, job *river.Job[eventJob]) error) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(work))
	return river.NewClient(riverpgxv5.New(b.workerPool), &river.Config{
		Logger:            measure.QuietLogger(),
		FetchCooldown:     t.FetchCooldown,
		FetchPollInterval: t.FetchPoll,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: b.river.Workers}},
		Workers:           workers,
	})
}

// riverInsertEventSQL is the app's event row as an app using River writes
// it by hand with pgx: the same columns RecordEvent fills, one INSERT
// returning the id the job carries.
const riverInsertEventSQL = `INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at) ` +
	`VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $10, $10) RETURNING id`

// riverRecord is River's form of RecordEvent: in one transaction on the
// pgx pool, the event row, then its job inserted with InsertTx. It
// returns the event's id.
func riverRecord(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], c measure.Call, index int) (int64, error) {
	extra := []byte("{}")
	if c.Extra != nil {
		var err error
		if extra, err = json.Marshal(map[string]any(c.Extra)); err != nil {
			return 0, err
		}
	}
	var recType, recID, recLabel any // NULL without a record, as RecordEvent stores it
	if c.Record.Type != "" {
		recType, recID, recLabel = c.Record.Type, c.Record.ID, c.Record.Label
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	var id int64
	if err := tx.QueryRow(ctx, riverInsertEventSQL, c.Subject, c.Action, c.Actor.Type, c.Actor.ID, c.Actor.Label,
		recType, recID, recLabel, string(extra), time.Now()).Scan(&id); err != nil {
		return 0, fmt.Errorf("river record: event: %w", err)
	}
	if _, err := client.InsertTx(ctx, tx, eventJob{EventID: id, Index: index}, nil); err != nil {
		return 0, fmt.Errorf("river record: InsertTx: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("river record: commit: %w", err)
	}
	return id, nil
}

// clearRiver empties River's jobs (the record figures leave them
// waiting), so each measurement starts from nothing.
func clearRiver(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `TRUNCATE river_job`)
	return err
}
