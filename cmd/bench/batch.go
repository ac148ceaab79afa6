package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// batchGroup measures the batching step (package inbox/batch):
//
//   - flushing 10,000 due windows of 10 items each (claim, load the items,
//     decode, hand each window to a no-op channel, mark it sent), against a
//     hand-written flush of the same rows: claim 100 windows with FOR
//     UPDATE SKIP LOCKED, load their items in one query, decode, mark the
//     100 sent in one statement; and the process's peak RSS while ours
//     flushes, against its RSS before;
//   - what batching adds to one delivery: the ledger transaction with the
//     event joining its recipient's window (Batcher.Add), against the same
//     ledger transaction inserting one row for the event (immediate
//     delivery into a table, as the in-app inbox does).
func batchGroup() group {
	return group{
		name:  "batch",
		about: "flush of 10,000 open windows of 10 items (time, peak RSS), and the cost batching adds per delivery against immediate delivery",
		run:   runBatch,
	}
}

const batchItems = 10

func runBatch(ctx context.Context, b *bench) ([]figure, error) {
	windows := b.size(10000, 200)
	deliveries := b.size(2000, 100)
	sqlDB, err := b.db.DB()
	if err != nil {
		return nil, err
	}
	if err := b.db.WithContext(ctx).Exec(`CREATE TABLE IF NOT EXISTS bench_immediate (recipient text NOT NULL, domain text NOT NULL, event_id bigint NOT NULL, event jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`).Error; err != nil {
		return nil, fmt.Errorf("batch: create bench_immediate: %w", err)
	}
	var round atomic.Int64
	seed := func(name string) error {
		if err := b.db.WithContext(ctx).Exec(`DELETE FROM batch_windows WHERE inbox = ?`, name).Error; err != nil {
			return err
		}
		if err := b.db.WithContext(ctx).Exec(`INSERT INTO batch_windows (inbox, recipient, batch_key, schedule, opened_at, due_at, item_count, status)
SELECT ?, 'user' || g, '', 'hourly', now() - interval '2 hours', now() - interval '1 hour', ?, 'open' FROM generate_series(1, ?) g`, name, batchItems, windows).Error; err != nil {
			return err
		}
		return b.db.WithContext(ctx).Exec(`INSERT INTO batch_items (window_id, domain, event_id, event, created_at)
SELECT w.id, 'issue', w.id * 100 + k, jsonb_build_object('id', w.id * 100 + k, 'domain', 'issue', 'subject_id', (w.id % 500)::text, 'action', 'comment_added',
  'actor_type', 'users', 'actor_id', (k * 7)::text, 'actor_label', 'User ' || (k * 7), 'extra', jsonb_build_object('body', 'This is still broken for me after the update, see the log attached', 'chars', 64),
  'occurred_at', now() - interval '90 minutes' + k * interval '1 second', 'created_at', now(), 'updated_at', now(), 'repeats', 0, 'depth', 0),
  now() - interval '90 minutes' + k * interval '1 second'
FROM batch_windows w, generate_series(1, ?) k WHERE w.inbox = ?`, batchItems, name).Error
	}

	var peakKB, basePeakKB, startKB int64
	var oursEvents, baseEvents atomic.Int64
	flushOurs := func() (float64, error) {
		name := fmt.Sprintf("bench-ours-%d", round.Add(1))
		if err := seed(name); err != nil {
			return 0, fmt.Errorf("batch: seed: %w", err)
		}
		var got atomic.Int64
		bt, err := batch.New(batch.Config{Inbox: name, DB: b.db, Deliver: func(_ context.Context, w *batch.Batch) error {
			got.Add(int64(len(w.Events)))
			return nil
		}})
		if err != nil {
			return 0, err
		}
		resetPeakRSS()
		before := rssKB("VmRSS")
		start := time.Now()
		res, err := bt.Flush(ctx, time.Now())
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if peak := rssKB("VmHWM"); peak > peakKB {
			peakKB, startKB = peak, before
		}
		if res.Sent != windows || got.Load() != int64(windows*batchItems) {
			return 0, fmt.Errorf("batch: ours flushed %d windows, %d events; want %d, %d", res.Sent, got.Load(), windows, windows*batchItems)
		}
		oursEvents.Store(got.Load())
		_ = b.db.WithContext(ctx).Exec(`DELETE FROM batch_windows WHERE inbox = ?`, name).Error
		return ms(took), nil
	}
	flushBaseline := func() (float64, error) {
		name := fmt.Sprintf("bench-base-%d", round.Add(1))
		if err := seed(name); err != nil {
			return 0, fmt.Errorf("batch: seed: %w", err)
		}
		resetPeakRSS()
		start := time.Now()
		n, events, err := handFlush(ctx, sqlDB, name)
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if peak := rssKB("VmHWM"); peak > basePeakKB {
			basePeakKB = peak
		}
		if n != windows || events != windows*batchItems {
			return 0, fmt.Errorf("batch: baseline flushed %d windows, %d events", n, events)
		}
		baseEvents.Store(int64(events))
		_ = b.db.WithContext(ctx).Exec(`DELETE FROM batch_windows WHERE inbox = ?`, name).Error
		return ms(took), nil
	}
	b.logf("batch: flushing %d windows of %d items, %d rounds each side", windows, batchItems, b.rounds)
	oursMS, baseMS, err := alternate(b.rounds, flushOurs, flushBaseline)
	if err != nil {
		return nil, err
	}

	// Per delivery: the ledger transaction, joining a window or inserting a row.
	ledger := inbox.NewLedger(inbox.LedgerConfig{})
	joiner, err := batch.New(batch.Config{Inbox: "bench-join", DB: b.db, Deliver: func(context.Context, *batch.Batch) error { return nil }, MaxItems: 100000})
	if err != nil {
		return nil, err
	}
	var seq atomic.Int64
	seq.Store(time.Now().UnixNano() / 1000)
	ev := func() activity.Event {
		now := time.Now().UTC()
		return activity.Event{ID: seq.Add(1), Domain: "issue", SubjectID: "42", Action: "comment_added", ActorType: "users", ActorID: "7", ActorLabel: "User 7",
			Extra: json.RawMessage(`{"body":"This is still broken for me after the update, see the log attached","chars":64}`), OccurredAt: now, CreatedAt: now, UpdatedAt: now}
	}
	perDelivery := func(fn func(tx *gorm.DB, e activity.Event, recipient string) error, inboxName string) func() (float64, error) {
		return func() (float64, error) {
			start := time.Now()
			for i := range deliveries {
				e := ev()
				recipient := fmt.Sprintf("user%d", i%50)
				_, err := ledger.Once(ctx, b.db, inbox.Key{Inbox: inboxName, Event: e.Ref(), Recipient: recipient}, func(tx *gorm.DB) error { return fn(tx, e, recipient) })
				if err != nil {
					return 0, err
				}
			}
			return ms(time.Since(start)) / float64(deliveries), nil
		}
	}
	batched := perDelivery(func(tx *gorm.DB, e activity.Event, recipient string) error {
		_, err := joiner.Add(ctx, tx, batch.AddRequest{Recipient: recipient, Schedule: inbox.EveryHour(), Event: e})
		return err
	}, "bench-join")
	immediate := perDelivery(func(tx *gorm.DB, e activity.Event, recipient string) error {
		snap, _ := json.Marshal(e)
		return tx.Exec(`INSERT INTO bench_immediate (recipient, domain, event_id, event) VALUES (?, ?, ?, ?::jsonb)`, recipient, e.Domain, e.ID, string(snap)).Error
	}, "bench-immediate")
	b.logf("batch: %d deliveries per side, %d rounds", deliveries, b.rounds)
	batchedMS, immediateMS, err := alternate(b.rounds, batched, immediate)
	if err != nil {
		return nil, err
	}
	b.note("batch: flush of %d due windows x %d items into a no-op channel (Batcher.Flush: claims of 100 with FOR UPDATE SKIP LOCKED, one items query per claim, then one mark per window right after its delivery, committed without waiting for the WAL flush, so a flusher that dies re-delivers at most one window); baseline: a hand-written flush claiming 100 windows, loading their items in one query and marking them in one statement; medians of %d alternating rounds. Peak RSS of the process while ours flushed %d MB, while the hand-written flush ran %d MB (VmHWM, reset before each; highest of the rounds), RSS before %d MB. Per delivery: %d sequential ledger transactions joining 50 recipients' hourly windows (Batcher.Add) against the same transactions inserting one row per event (immediate).",
		windows, batchItems, b.rounds, peakKB/1024, basePeakKB/1024, startKB/1024, deliveries)
	return []figure{
		{Name: fmt.Sprintf("batch flush, %s windows x %d items", thousands(int64(windows)), batchItems), Unit: "ms", Ours: oursMS, Baseline: baseMS, Target: target{MaxRatio: 5}},
		{Name: "batch flush peak RSS (vs the hand-written flush's)", Unit: "MB", Ours: float64(peakKB) / 1024, Baseline: float64(basePeakKB) / 1024, Target: target{MaxRatio: 1.5}},
		{Name: "batched delivery, per event (vs immediate)", Unit: "ms", Ours: batchedMS, Baseline: immediateMS, Target: target{MaxRatio: 1.5}},
	}, nil
}

// handFlush is the baseline: the flush a careful engineer writes by hand
// on database/sql (pgx), in batches of 100 windows.
func handFlush(ctx context.Context, db *sql.DB, name string) (windows, events int, err error) {
	for {
		rows, err := db.QueryContext(ctx, `UPDATE batch_windows SET status = 'sending', attempts = attempts + 1, claimed_at = now()
WHERE id IN (SELECT id FROM batch_windows WHERE inbox = $1 AND status = 'open' AND due_at <= now() ORDER BY due_at, id LIMIT 100 FOR UPDATE SKIP LOCKED)
RETURNING id`, name)
		if err != nil {
			return windows, events, err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return windows, events, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) == 0 {
			return windows, events, nil
		}
		arr := int64Array(ids)
		items, err := db.QueryContext(ctx, `SELECT window_id, event::text FROM batch_items WHERE window_id = ANY($1::bigint[]) ORDER BY window_id, created_at, event_id`, arr)
		if err != nil {
			return windows, events, err
		}
		per := map[int64][]activity.Event{}
		for items.Next() {
			var id int64
			var s string
			if err := items.Scan(&id, &s); err != nil {
				items.Close()
				return windows, events, err
			}
			var ev activity.Event
			if err := json.Unmarshal([]byte(s), &ev); err != nil {
				items.Close()
				return windows, events, err
			}
			per[id] = append(per[id], ev)
		}
		items.Close()
		for _, evs := range per { // the no-op channel
			events += len(evs)
		}
		if _, err := db.ExecContext(ctx, `UPDATE batch_windows SET status = 'sent', sent_at = now() WHERE id = ANY($1::bigint[])`, arr); err != nil {
			return windows, events, err
		}
		windows += len(ids)
	}
}

// int64Array renders ids as a PostgreSQL array literal.
func int64Array(ids []int64) string {
	buf := []byte{'{'}
	for i, id := range ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, "%d", id)
	}
	return string(append(buf, '}'))
}
