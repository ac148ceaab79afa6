package inbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// maxMarks is the most MarkSent calls one statement takes.
const maxMarks = 256

// marks gathers the MarkSent calls made on the pool into shared
// statements (a group commit): per database handle and tenant, at most
// one statement is in flight; the calls made meanwhile wait for it and go
// together in the next, up to maxMarks. A call made while none is in
// flight goes at once, so a lone mark waits for nothing but its own
// statement, and under load one statement and one commit serve many.
// Each call returns when its own mark has committed, with its own
// outcome, as an ungrouped mark does: nothing is acknowledged before it
// is written.
type marks struct {
	mu      sync.Mutex
	queues  map[markQueueKey]*markQueue
	flushes int // statements run, for the tests
}

type markQueueKey struct {
	db     *gorm.DB
	tenant string
}

type markQueue struct {
	pending  []*markCall
	flushing bool
}

// markCall is one waiting MarkSent.
type markCall struct {
	ctx  context.Context
	key  Key
	done chan struct{}
	err  error // set before done is closed
}

// markSent marks key sent through db's queue for ctx's tenant and waits
// for the statement that carries it.
func (l *Ledger) markSent(ctx context.Context, db *gorm.DB, key Key) error {
	c := &markCall{ctx: ctx, key: key, done: make(chan struct{})}
	qk := markQueueKey{db: db, tenant: TenantOf(ctx)}
	m := l.marks
	m.mu.Lock()
	q := m.queues[qk]
	if q == nil {
		q = &markQueue{}
		m.queues[qk] = q
	}
	q.pending = append(q.pending, c)
	start := !q.flushing
	q.flushing = true
	m.mu.Unlock()
	if start {
		go l.flushMarks(db, qk, q)
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		// The mark may still be written: the claim's row says sent or
		// sending, and a retry finds out which.
		return fmt.Errorf("inbox: ledger mark %s %s: %w", key, StatusSent, context.Cause(ctx))
	}
}

// flushMarks runs q's statements until nothing is pending.
func (l *Ledger) flushMarks(db *gorm.DB, qk markQueueKey, q *markQueue) {
	m := l.marks
	for {
		m.mu.Lock()
		if len(q.pending) == 0 {
			q.flushing = false
			delete(m.queues, qk)
			m.mu.Unlock()
			return
		}
		// One call per key in a statement: a second mark of the same
		// key waits for the next, and finds it marked (an error, as
		// ungrouped).
		var batch, rest []*markCall
		seen := map[Key]bool{}
		for _, c := range q.pending {
			if len(batch) < maxMarks && !seen[c.key] {
				seen[c.key] = true
				batch = append(batch, c)
			} else {
				rest = append(rest, c)
			}
		}
		q.pending = rest
		m.flushes++
		m.mu.Unlock()

		marked, err := l.markBatch(db, batch)
		for _, c := range batch {
			switch {
			case err != nil:
				c.err = err
			case !marked[c.key]:
				c.err = fmt.Errorf("inbox: ledger mark %s %s: it is not claimed (call Claim first; a claim older than the claim timeout may have been taken over)", c.key, StatusSent)
			}
			close(c.done)
		}
	}
}

// markBatch marks batch's keys sent in one statement (of their tenant: the
// first call's context carries it) and returns the keys it marked.
func (l *Ledger) markBatch(db *gorm.DB, batch []*markCall) (map[Key]bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), 5*time.Second)
	defer cancel()
	inboxes := make(pgarray.Text, len(batch))
	domains := make(pgarray.Text, len(batch))
	ids := make(pgarray.Int8, len(batch))
	recipients := make(pgarray.Text, len(batch))
	for i, c := range batch {
		inboxes[i], domains[i], ids[i], recipients[i] = c.key.Inbox, c.key.Event.Domain, c.key.Event.ID, c.key.Recipient
	}
	cond, targs := TenantCondition(ctx, "d.")
	rows, err := db.WithContext(ctx).Raw(asyncCommit(db)+`
UPDATE inbox_deliveries AS d SET status = 'sent', last_error = NULL, updated_at = ?
FROM async, unnest(?::text[], ?::text[], ?::bigint[], ?::text[]) AS k(i, dm, e, r)
WHERE d.inbox = k.i AND d.domain = k.dm AND d.event_id = k.e AND d.recipient = k.r AND d.status = 'sending' AND `+cond+`
RETURNING d.inbox, d.domain, d.event_id, d.recipient`,
		append([]any{l.now(), inboxes, domains, ids, recipients}, targs...)...).Rows()
	if err != nil {
		return nil, fmt.Errorf("inbox: ledger mark %d deliveries %s: %w", len(batch), StatusSent, err)
	}
	defer rows.Close()
	marked := make(map[Key]bool, len(batch))
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.Inbox, &k.Event.Domain, &k.Event.ID, &k.Recipient); err != nil {
			return nil, fmt.Errorf("inbox: ledger mark %d deliveries %s: %w", len(batch), StatusSent, err)
		}
		marked[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inbox: ledger mark %d deliveries %s: %w", len(batch), StatusSent, err)
	}
	return marked, nil
}
