package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// throttleGroup measures throttled recording on one hot key: 32 goroutines
// recording the same (subject, action, actor, record) with
// ThrottleWithin(15m), against a raw pgx transaction doing the same under
// an advisory lock. Afterwards each key must hold exactly one row.
func throttleGroup() group {
	return group{
		name:  "throttle",
		about: "throttled recording, 32 goroutines on one hot key, against a raw pgx advisory-lock transaction",
		run:   runThrottle,
	}
}

const (
	throttleWorkers = 32
	throttleWindow  = 15 * time.Minute
	// Each side has its own hot key (its own issue), so both start from
	// nothing and each ends with exactly one row.
	throttleSubjectOurs     = 1201
	throttleSubjectBaseline = 1202
)

func throttleCall(subject int64) call {
	return call{
		Subject: subject,
		Action:  "comment_viewed",
		Actor:   activity.Ref{Type: "users", ID: "1", Label: "User 1"},
		Record:  activity.Ref{Type: "comments", ID: "1", Label: "Comment 1"},
		Extra:   activity.Extra{"chars": 120, "lang": "en"},
	}
}

func runThrottle(ctx context.Context, b *bench) ([]figure, error) {
	pool, err := newPool(ctx, b.dsn, b.poolSize)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var oursInserts, baseInserts atomic.Int64
	oursCall, baseCall := throttleCall(throttleSubjectOurs), throttleCall(throttleSubjectBaseline)
	ours := func(ctx context.Context, _, _ int) error {
		res, err := b.issues.RecordEvent(ctx, b.db, oursCall.Subject, oursCall.Action, oursCall.options(activity.ThrottleWithin(throttleWindow))...)
		if err == nil && !res.Throttled {
			oursInserts.Add(1)
		}
		return err
	}
	base := func(ctx context.Context, _, _ int) error {
		_, throttled, err := baselineThrottled(ctx, pool, baseCall, throttleWindow)
		if err == nil && !throttled {
			baseInserts.Add(1)
		}
		return err
	}

	d := b.duration(roundLength, 300*time.Millisecond)
	warm := b.duration(500*time.Millisecond, 100*time.Millisecond)
	for _, op := range []func(context.Context, int, int) error{ours, base} {
		if _, err := throughput(ctx, throttleWorkers, warm, op); err != nil {
			return nil, fmt.Errorf("throttle: warm up: %w", err)
		}
	}
	b.logf("throttle: %d workers on one key, %d rounds of %s per side", throttleWorkers, b.rounds, d)
	o, r, err := alternate(b.rounds,
		func() (float64, error) { return throughput(ctx, throttleWorkers, d, ours) },
		func() (float64, error) { return throughput(ctx, throttleWorkers, d, base) })
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	fig := figure{
		Name:     fmt.Sprintf("throttled record, %d on 1 key", throttleWorkers),
		Unit:     "ev/s",
		Ours:     o,
		Baseline: r,
		Target:   target{MinRatio: 0.8},
	}
	for _, side := range []struct {
		name    string
		subject int64
		inserts int64
	}{{"ours", throttleSubjectOurs, oursInserts.Load()}, {"baseline", throttleSubjectBaseline, baseInserts.Load()}} {
		rows, err := hotKeyRows(ctx, b, side.subject)
		if err != nil {
			return nil, err
		}
		if len(rows) != 1 || side.inserts != 1 {
			fig.Failed = fmt.Sprintf("%s: %d rows for the hot key, %d calls inserted", side.name, len(rows), side.inserts)
			b.note("throttle: FAILED: %s", fig.Failed)
		}
		for _, e := range rows {
			b.note("throttle (%s): the hot key holds %d row: event %d, %d repeats folded in, occurred_at %s (created %s); %d call inserted, the rest touched it.",
				side.name, len(rows), e.ID, e.Repeats, e.OccurredAt.UTC().Format(time.RFC3339Nano), e.CreatedAt.UTC().Format(time.RFC3339Nano), side.inserts)
		}
	}
	b.note("throttle: %d goroutines record issue %d comment_viewed by users:1 on comments:1 with ThrottleWithin(15m) (one statement calling the domain's plpgsql function) against raw pgx: BEGIN; SELECT pg_advisory_xact_lock; UPDATE the recent row, else INSERT event + outbox; COMMIT. Median of %d alternating runs of %s per side.",
		throttleWorkers, throttleSubjectOurs, b.rounds, d)
	return []figure{fig}, nil
}

// hotKeyRows loads the events of a throttle figure's key.
func hotKeyRows(ctx context.Context, b *bench, subject int64) ([]activity.Event, error) {
	c := throttleCall(subject)
	var out []activity.Event
	for page, first := (activity.Page{}), true; first || page.Next != ""; first = false {
		var err error
		page, err = b.issues.Feed(ctx, b.db, activity.FeedQuery{
			Subject: c.Subject, Actor: c.Actor, Record: c.Record, Actions: []string{c.Action}, After: page.Next,
		})
		if err != nil {
			return nil, fmt.Errorf("throttle: read the hot key's rows: %w", err)
		}
		out = append(out, page.Events()...)
	}
	return out, nil
}
