package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// recordGroup measures recording throughput: issues.RecordEvent through
// gorm against raw pgx running the same one-statement CTE (event, outbox
// row, pg_notify), at concurrency 8 and 32.
func recordGroup() group {
	return group{
		name:  "record",
		about: "recording throughput at concurrency 8 and 32, against the same CTE through raw pgx",
		run:   runRecord,
	}
}

// recordSubjects are the issues the recording figures write to: one per
// worker (workers beyond them share), away from the feed's subjects.
const (
	recordSubjectBase = 1101
	recordSubjects    = 64
)

// recordCall is the i-th recording of worker w: the worker's issue, a
// user actor and a comment record that vary, and a small extra.
func recordCall(w, i int) call {
	u := 1 + (w*7919+i)%fixtureUsers
	c := 1 + (w*104729+i*31)%fixtureComments
	return call{
		Subject: int64(recordSubjectBase + w%recordSubjects),
		Action:  "comment_added",
		Actor:   activity.Ref{Type: "users", ID: strconv.Itoa(u), Label: "User " + strconv.Itoa(u)},
		Record:  activity.Ref{Type: "comments", ID: strconv.Itoa(c), Label: "Comment " + strconv.Itoa(c)},
		Extra:   activity.Extra{"chars": 120 + i%50, "lang": "en"},
	}
}

func runRecord(ctx context.Context, b *bench) ([]figure, error) {
	pool, err := newPool(ctx, b.dsn, b.poolSize)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	ours := func(ctx context.Context, w, i int) error {
		c := recordCall(w, i)
		_, err := b.issues.RecordEvent(ctx, b.db, c.Subject, c.Action, c.options()...)
		return err
	}
	base := func(ctx context.Context, w, i int) error {
		_, err := baselineRecord(ctx, pool, recordCall(w, i))
		return err
	}

	d := b.duration(roundLength, 300*time.Millisecond)
	warm := b.duration(500*time.Millisecond, 100*time.Millisecond)
	var figs []figure
	for _, workers := range []int{8, 32} {
		// Open the connections and prepare the statements of both sides
		// before anything is timed.
		for _, op := range []func(context.Context, int, int) error{ours, base} {
			if _, err := throughput(ctx, workers, warm, op); err != nil {
				return nil, fmt.Errorf("record: warm up: %w", err)
			}
		}
		b.logf("record: %d workers, %d rounds of %s per side", workers, b.rounds, d)
		o, r, err := alternate(b.rounds,
			func() (float64, error) { return throughput(ctx, workers, d, ours) },
			func() (float64, error) { return throughput(ctx, workers, d, base) })
		if err != nil {
			return nil, fmt.Errorf("record at concurrency %d: %w", workers, err)
		}
		figs = append(figs, figure{
			Name:     fmt.Sprintf("record, concurrency %d", workers),
			Unit:     "ev/s",
			Ours:     o,
			Baseline: r,
			Target:   target{MinRatio: 0.85},
		})
	}
	b.note("record: issues.RecordEvent(ctx, gormDB, issue, \"comment_added\", Actor(Ref), Record(Ref), Extra{2 keys}) against raw pgx (pgxpool) running the same CTE (event + outbox row + pg_notify) by hand; both pools %d connections; median of %d alternating runs of %s per side.",
		b.poolSize, b.rounds, d)
	return figs, nil
}
