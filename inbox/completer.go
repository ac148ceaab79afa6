package inbox

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// pendingKey names one pending delivery (an inbox_pending row).
type pendingKey struct {
	domain  string
	eventID int64
	inbox   string
}

// completer deletes the pending rows of finished jobs in batches: one
// statement per interval (or per maxBatch keys), never one per job. A key
// whose row is not there yet (the relay's batch had not committed when its
// job ran) is tried again on the next flushes for up to keepMissing; after
// that the sweeper drops the row when it finds the task completed.
type completer struct {
	db          *gorm.DB
	log         *slog.Logger
	interval    time.Duration
	keepMissing time.Duration
	maxBatch    int

	mu        sync.Mutex
	keys      []pendingKey
	missing   []missingKey
	delivered []pendingKey  // succeeded: a dead letter of theirs is resolved
	kick      chan struct{} // maxBatch keys wait: flush now
	arm       chan struct{} // the first key after none waited: flush in interval
	wakes     atomic.Int64  // flushes run (timer or kick), for tests
}

type missingKey struct {
	pendingKey
	since time.Time
}

func newCompleter(db *gorm.DB, log *slog.Logger, interval time.Duration) *completer {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return &completer{db: db, log: log, interval: interval, keepMissing: 5 * time.Second, maxBatch: 2000,
		kick: make(chan struct{}, 1), arm: make(chan struct{}, 1)}
}

// add notes that a job finished (delivered: it succeeded; tracked: an
// inbox_pending row is there to delete).
func (c *completer) add(k pendingKey, delivered, tracked bool) {
	if !tracked && !delivered {
		return
	}
	c.mu.Lock()
	first := c.idleLocked()
	if tracked {
		c.keys = append(c.keys, k)
	}
	if delivered {
		c.delivered = append(c.delivered, k)
	}
	full := len(c.keys) >= c.maxBatch
	c.mu.Unlock()
	signal := c.arm
	if full {
		signal = c.kick
	} else if !first {
		return // the timer runs already
	}
	select {
	case signal <- struct{}{}:
	default:
	}
}

// idleLocked reports whether nothing waits for a flush (c.mu held).
func (c *completer) idleLocked() bool {
	return len(c.keys) == 0 && len(c.missing) == 0 && len(c.delivered) == 0
}

// run flushes until ctx is done, then once more: interval after the
// first key that found nothing waiting (at once when maxBatch wait), and
// again every interval while keys remain (rows not there yet). With
// nothing to flush no timer runs: an idle worker's completer does not
// wake (a 100ms ticker was a third of an idle worker's wake-ups).
func (c *completer) run(ctx context.Context) {
	t := time.NewTimer(c.interval)
	t.Stop()
	defer t.Stop()
	armed := false
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			c.flush(fctx)
			cancel()
			return
		case <-c.arm:
			if !armed {
				t.Reset(c.interval)
				armed = true
			}
			continue
		case <-t.C:
		case <-c.kick:
			t.Stop() // Go 1.23+: no stale tick is left to drain
		}
		armed = false
		c.wakes.Add(1)
		// Not cut by the stop: a flush under way when the worker stops
		// finishes (the stop waits for it) instead of failing with
		// "context canceled" and warning at every clean shutdown.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		c.flush(fctx)
		cancel()
		c.mu.Lock()
		again := !c.idleLocked() // gathered meanwhile, or kept for a retry
		c.mu.Unlock()
		if again {
			t.Reset(c.interval)
			armed = true
		}
	}
}

// flush deletes the rows of the keys gathered so far.
func (c *completer) flush(ctx context.Context) {
	c.mu.Lock()
	keys, retry, delivered := c.keys, c.missing, c.delivered
	c.keys, c.missing, c.delivered = nil, nil, nil
	c.mu.Unlock()
	if len(delivered) > 0 {
		c.resolveLetters(ctx, delivered)
	}
	if len(keys) == 0 && len(retry) == 0 {
		return
	}
	now := time.Now()
	n := len(keys) + len(retry)
	domains, ids, inboxes := make(pgarray.Text, 0, n), make(pgarray.Int8, 0, n), make(pgarray.Text, 0, n)
	since := make(map[pendingKey]time.Time, len(retry))
	for _, k := range keys {
		domains, ids, inboxes = append(domains, k.domain), append(ids, k.eventID), append(inboxes, k.inbox)
	}
	for _, m := range retry {
		since[m.pendingKey] = m.since
		domains, ids, inboxes = append(domains, m.domain), append(ids, m.eventID), append(inboxes, m.inbox)
	}
	var missing []pendingKey
	// Without waiting for the WAL flush: a completion lost in a crash
	// leaves the row for the sweeper, whose re-enqueue the task ID and the
	// ledger keep from delivering twice; the worker's writes stop queueing
	// behind the recorders' flushes.
	err := c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL synchronous_commit = off`).Error; err != nil {
			return err
		}
		return deletePending(ctx, tx, domains, ids, inboxes, &missing)
	})
	if err != nil {
		// Keep them for the next flush; the sweeper is the safety net.
		c.log.LogAttrs(ctx, slog.LevelWarn, "inbox: could not mark finished deliveries; trying again", slog.Any("error", err), slog.Int("deliveries", n))
		c.mu.Lock()
		c.keys = append(c.keys, keys...)
		c.missing = append(c.missing, retry...)
		c.mu.Unlock()
		return
	}
	if len(missing) == 0 {
		return
	}
	var again []missingKey
	for _, k := range missing {
		s, ok := since[k]
		if !ok {
			s = now
		}
		if now.Sub(s) < c.keepMissing {
			again = append(again, missingKey{pendingKey: k, since: s})
		}
	}
	c.mu.Lock()
	c.missing = append(c.missing, again...)
	c.mu.Unlock()
}

// completion is a worker's completer and its goroutine.
type completion struct {
	c      *completer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (d *completion) start(ctx context.Context) {
	if d.c == nil {
		return
	}
	ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.c.run(ctx)
	}()
}

// stop flushes what is gathered and stops (after the asynq server: jobs
// finishing during its shutdown are still marked).
func (d *completion) stop() {
	if d.c == nil || d.cancel == nil {
		return
	}
	d.cancel()
	d.wg.Wait()
	d.cancel = nil
}

// add notes that inbox's job for p's event is finished (delivered: it
// succeeded, rather than became a dead letter). A backfill's job has no
// inbox_pending row: only its dead letter, if any, is resolved. (Looking
// for rows that are not there kept every backfill job's key for
// keepMissing and sent them all again in each flush: memory and work
// growing with the backfill's rate.)
func (d *completion) add(inbox string, p payload, delivered bool) {
	if d.c != nil {
		d.c.add(pendingKey{domain: p.Domain, eventID: p.EventID, inbox: inbox}, delivered, !p.Backfill)
	}
}

// resolveLetters marks the dead letters of jobs that succeeded after all
// (asynq's "Run now" on an archived task, a re-drive) as delivered: one
// statement per batch, never one per job.
func (c *completer) resolveLetters(ctx context.Context, keys []pendingKey) {
	domains, ids, inboxes := make(pgarray.Text, len(keys)), make(pgarray.Int8, len(keys)), make(pgarray.Text, len(keys))
	for i, k := range keys {
		domains[i], ids[i], inboxes[i] = k.domain, k.eventID, k.inbox
	}
	err := c.db.WithContext(ctx).Exec(`UPDATE inbox_dead_letters l SET delivered_at = now()
FROM unnest(?::text[], ?::bigint[], ?::text[]) AS k(d, e, i)
WHERE l.inbox = k.i AND l.domain = k.d AND l.event_id = k.e AND l.delivered_at IS NULL`, domains, ids, inboxes).Error
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "inbox: could not mark the dead letters of delivered jobs", slog.Any("error", err))
	}
}
