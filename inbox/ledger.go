package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/rawscan"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// Key names one delivery in the ledger: an inbox's effect for one event
// and one recipient ("" when the effect is per event, not per person).
type Key struct {
	Inbox     string
	Event     activity.EventRef
	Recipient string
}

func (k Key) String() string {
	if k.Recipient == "" {
		return fmt.Sprintf("%s/%s", k.Inbox, k.Event)
	}
	return fmt.Sprintf("%s/%s/%s", k.Inbox, k.Event, k.Recipient)
}

// Status is a ledger row's state.
type Status string

// Ledger statuses.
const (
	// StatusDone: a database effect committed with its ledger row (Once).
	StatusDone Status = "done"
	// StatusSending: an attempt claimed an external effect and has not
	// reported back yet (Claim).
	StatusSending Status = "sending"
	// StatusSent: the external effect happened (MarkSent).
	StatusSent Status = "sent"
	// StatusFailed: the last attempt failed (Release); the next may claim.
	StatusFailed Status = "failed"
)

// Entry is one ledger row.
type Entry struct {
	Key
	Status    Status
	Attempts  int
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LedgerConfig configures a Ledger. Zero fields take the defaults.
type LedgerConfig struct {
	// ClaimTimeout is how long a claim (StatusSending) shuts out other
	// attempts. After it, the claiming attempt is presumed dead (a killed
	// process) and the delivery may be claimed again, which is the one
	// case where an external effect can happen twice. Keep it above the
	// longest Policy.Timeout. Default DefaultClaimTimeout.
	ClaimTimeout time.Duration
	// Now is the clock for the rows' timestamps. Default time.Now.
	Now func() time.Time
}

// DefaultClaimTimeout is the default LedgerConfig.ClaimTimeout.
const DefaultClaimTimeout = 2 * time.Minute

// Ledger records which deliveries happened, in the inbox_deliveries table,
// keyed by (inbox, domain, event, recipient). It holds no connection: every
// method takes the database handle (or the transaction) to work in.
//
// Two ways to use it:
//
//   - A database effect (a row of the app's, a notification) runs inside
//     Once, which inserts the ledger row in the same transaction: the effect
//     and its record commit together or not at all, so it happens exactly
//     once however often the job runs.
//   - An external effect (an email, a Slack message) cannot share a
//     transaction. Send (or Claim, then MarkSent or Release) records the
//     attempt before and the success after: a retried job skips what was
//     sent. If the process dies between the send and the mark, the next
//     attempt after ClaimTimeout sends again: at least once, with a
//     duplicate only in that window.
//
// A claim and a mark made on the pool (not in a caller's transaction)
// commit without waiting for PostgreSQL's WAL flush (synchronous_commit
// off for their own one-statement transaction, as the relay's batches and
// the batch windows' marks do): they are visible to every other attempt
// at once, so claims still shut each other out, and a worker that dies
// loses none of them. Only a crash of PostgreSQL itself may lose the last
// few (within about three wal_writer_delay), and a lost claim or mark is
// then what a worker dying between the send and the mark is: a later
// attempt, if the job runs again, sends once more. Waiting for the flush
// made each external delivery wait for two disk flushes (cmd/bench, the
// channel groups). Called in a transaction, they commit with it.
type Ledger struct {
	claimTimeout time.Duration
	now          func() time.Time
	marks        *marks
}

// NewLedger returns a Ledger.
func NewLedger(cfg LedgerConfig) *Ledger {
	l := &Ledger{claimTimeout: cfg.ClaimTimeout, now: cfg.Now, marks: &marks{queues: map[markQueueKey]*markQueue{}}}
	if l.claimTimeout <= 0 {
		l.claimTimeout = DefaultClaimTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Once runs fn in a transaction (a savepoint when db is one already) that
// also records key as done, unless key is recorded already. It reports
// whether fn ran. If fn fails, nothing is recorded and its error is
// returned. Two attempts racing on one key serialise on the ledger's
// primary key: the second waits for the first to commit, then skips.
func (l *Ledger) Once(ctx context.Context, db *gorm.DB, key Key, fn func(tx *gorm.DB) error) (bool, error) {
	fresh, err := l.OnceEach(ctx, db, []Key{key}, func(tx *gorm.DB, _ []Key) error { return fn(tx) })
	return len(fresh) == 1, err
}

// OnceEach is Once for many keys in one transaction: it records the keys
// not yet recorded and calls fn with them (fn is not called when every key
// was recorded before). It returns the keys fn handled.
func (l *Ledger) OnceEach(ctx context.Context, db *gorm.DB, keys []Key, fn func(tx *gorm.DB, fresh []Key) error) ([]Key, error) {
	if db == nil {
		return nil, errNilDB
	}
	if len(keys) == 0 {
		return nil, nil
	}
	inboxes := make(pgarray.Text, len(keys))
	domains := make(pgarray.Text, len(keys))
	ids := make(pgarray.Int8, len(keys))
	recipients := make(pgarray.Text, len(keys))
	for i, k := range keys {
		if err := k.validate(); err != nil {
			return nil, err
		}
		inboxes[i], domains[i], ids[i], recipients[i] = k.Inbox, k.Event.Domain, k.Event.ID, k.Recipient
	}
	now := l.now()
	var fresh []Key
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The tenant of the job's event (on ctx; NULL when untenanted).
		rows, err := tx.Raw(`INSERT INTO inbox_deliveries (inbox, domain, event_id, recipient, status, created_at, updated_at, tenant_id)
SELECT i, d, e, r, 'done', ?, ?, ? FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[]) AS k(i, d, e, r)
ON CONFLICT (inbox, domain, event_id, recipient) DO NOTHING
RETURNING inbox, domain, event_id, recipient`, now, now, tenantArg(TenantOf(ctx)), inboxes, domains, ids, recipients).Rows()
		if err != nil {
			return fmt.Errorf("inbox: ledger insert: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k Key
			if err := rows.Scan(&k.Inbox, &k.Event.Domain, &k.Event.ID, &k.Recipient); err != nil {
				return fmt.Errorf("inbox: ledger insert: %w", err)
			}
			fresh = append(fresh, k)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("inbox: ledger insert: %w", err)
		}
		rows.Close()
		if len(fresh) == 0 {
			return nil
		}
		return fn(tx, fresh)
	})
	if err != nil {
		return nil, err
	}
	return fresh, nil
}

// asyncCommit is the head of a claim's or mark's statement: a CTE named
// async that the statement joins, which on the pool turns the WAL flush
// wait off for the statement's own transaction (set_config(..., true)
// lasts as long as it), and in a caller's transaction does nothing (its
// commit is the caller's: a claim must not weaken it).
func asyncCommit(db *gorm.DB) string {
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return `WITH async AS (SELECT NULL)`
	}
	return `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))`
}

// Claim records that an attempt is about to apply an external effect. It
// returns true when the caller should go ahead, false when the effect was
// sent (or done) already, and an error wrapping ErrInFlight, with a
// RetryAfter for the rest of the claim timeout, when another attempt holds
// a fresh claim. After a true, call MarkSent on success or Release on
// failure.
func (l *Ledger) Claim(ctx context.Context, db *gorm.DB, key Key) (bool, error) {
	return l.claim(ctx, db, key, false)
}

// ErrOtherTenant is returned (wrapped) by Claim for a key whose ledger row
// is another tenant's than the context's: a job's context carries the
// tenant of its event, and no other tenant's row is claimed or changed.
var ErrOtherTenant = errors.New("inbox: the delivery is another tenant's")

func (l *Ledger) claim(ctx context.Context, db *gorm.DB, key Key, again bool) (bool, error) {
	if db == nil {
		return false, errNilDB
	}
	if err := key.validate(); err != nil {
		return false, err
	}
	now := l.now()
	var attempts []int
	// Only the context's tenant's row is taken over (the key is global: an
	// event id is unique across tenants).
	same := "TRUE"
	if tenantfilter.On {
		same = "d.tenant_id IS NOT DISTINCT FROM EXCLUDED.tenant_id"
	}
	err := rawscan.All(db.WithContext(ctx).Raw(asyncCommit(db)+`
INSERT INTO inbox_deliveries AS d (inbox, domain, event_id, recipient, status, attempts, created_at, updated_at, tenant_id)
SELECT ?::text, ?::text, ?::bigint, ?::text, 'sending', 1, ?::timestamptz, ?::timestamptz, ?::text FROM async
ON CONFLICT (inbox, domain, event_id, recipient) DO UPDATE
   SET status = 'sending', attempts = d.attempts + 1, updated_at = EXCLUDED.updated_at
 WHERE (d.status = 'failed' OR (d.status = 'sending' AND d.updated_at <= ?)) AND `+same+`
RETURNING d.attempts`, key.Inbox, key.Event.Domain, key.Event.ID, key.Recipient, now, now, tenantArg(TenantOf(ctx)), now.Add(-l.claimTimeout)), &attempts)
	if err != nil {
		return false, fmt.Errorf("inbox: ledger claim %s: %w", key, err)
	}
	if len(attempts) == 1 {
		return true, nil
	}
	e, found, err := l.Lookup(ctx, db, key)
	if err != nil {
		return false, err
	}
	switch {
	case !found && again: // there, but not the context's tenant's
		return false, fmt.Errorf("inbox: ledger claim %s: %w", key, ErrOtherTenant)
	case !found: // deleted (pruned) between the two statements: try again
		return l.claim(ctx, db, key, true)
	case e.Status == StatusSending:
		wait := e.UpdatedAt.Add(l.claimTimeout).Sub(now)
		return false, RetryAfter(max(wait, time.Second), &InFlightError{Key: key, ClaimedAt: e.UpdatedAt, Attempts: e.Attempts})
	default: // sent or done
		return false, nil
	}
}

// MarkSent records that a claimed external effect happened. It returns
// once the mark has committed. Marks made at once on the pool share
// statements: while one is in flight, the next ones wait and go together
// in one (per database handle and tenant), so many concurrent deliveries
// pay for one statement and one commit, and a lone mark for its own.
func (l *Ledger) MarkSent(ctx context.Context, db *gorm.DB, key Key) error {
	if db == nil {
		return errNilDB
	}
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx || l.marks == nil {
		return l.finish(ctx, db, key, StatusSent, "")
	}
	return l.markSent(ctx, db, key)
}

// Release records that a claimed external effect failed, so the next
// attempt may claim it at once. cause is kept as the row's last error.
func (l *Ledger) Release(ctx context.Context, db *gorm.DB, key Key, cause error) error {
	msg := "released"
	if cause != nil {
		msg = cause.Error()
	}
	return l.finish(ctx, db, key, StatusFailed, msg)
}

func (l *Ledger) finish(ctx context.Context, db *gorm.DB, key Key, status Status, lastError string) error {
	if db == nil {
		return errNilDB
	}
	var le any
	if lastError != "" {
		le = truncate(lastError, 2000)
	}
	cond, targs := TenantCondition(ctx, "")
	res := db.WithContext(ctx).Exec(asyncCommit(db)+`
UPDATE inbox_deliveries SET status = ?, last_error = ?, updated_at = ?
FROM async WHERE inbox = ? AND domain = ? AND event_id = ? AND recipient = ? AND status = 'sending' AND `+cond,
		append([]any{string(status), le, l.now(), key.Inbox, key.Event.Domain, key.Event.ID, key.Recipient}, targs...)...)
	if res.Error != nil {
		return fmt.Errorf("inbox: ledger mark %s %s: %w", key, status, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("inbox: ledger mark %s %s: it is not claimed (call Claim first; a claim older than the claim timeout may have been taken over)", key, status)
	}
	return nil
}

// Send runs send for key at most once per successful delivery: it claims
// key, calls send, and marks it sent, or releases it with send's error,
// which it returns. It returns false, nil when key was sent already.
//
// Send is at least once: if the process dies after send succeeded and
// before the mark, a later attempt sends again (after ClaimTimeout). Give
// the receiver an idempotency key where it takes one (a Message-ID, a
// Slack client_msg_id).
func (l *Ledger) Send(ctx context.Context, db *gorm.DB, key Key, send func(ctx context.Context) error) (bool, error) {
	ok, err := l.Claim(ctx, db, key)
	if err != nil || !ok {
		return false, err
	}
	if err := send(ctx); err != nil {
		// The mark must be written even when ctx is done (a timeout).
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := l.Release(mctx, db, key, err); rerr != nil {
			return false, errors.Join(err, rerr)
		}
		return false, err
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.MarkSent(mctx, db, key); err != nil {
		return true, err
	}
	return true, nil
}

// Lookup returns key's ledger row, and whether there is one, in the
// context's tenant (a job's context carries its event's).
func (l *Ledger) Lookup(ctx context.Context, db *gorm.DB, key Key) (Entry, bool, error) {
	if db == nil {
		return Entry{}, false, errNilDB
	}
	cond, targs := TenantCondition(ctx, "")
	rows, err := db.WithContext(ctx).Raw(`SELECT status, attempts, coalesce(last_error, ''), created_at, updated_at FROM inbox_deliveries
WHERE inbox = ? AND domain = ? AND event_id = ? AND recipient = ? AND `+cond, append([]any{key.Inbox, key.Event.Domain, key.Event.ID, key.Recipient}, targs...)...).Rows()
	if err != nil {
		return Entry{}, false, fmt.Errorf("inbox: ledger lookup %s: %w", key, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Entry{}, false, rows.Err()
	}
	e := Entry{Key: key}
	if err := rows.Scan(&e.Status, &e.Attempts, &e.LastError, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return Entry{}, false, fmt.Errorf("inbox: ledger lookup %s: %w", key, err)
	}
	return e, true, nil
}

// PruneAllTenants deletes the ledger rows of every tenant created before
// t, except claims in flight. A job re-run for a pruned delivery (a dead
// letter re-driven months later) applies its effect again: keep rows
// longer than you keep dead letters and tasks. It is maintenance, for a
// process that serves every tenant: it ignores the context's tenant.
func (l *Ledger) PruneAllTenants(ctx context.Context, db *gorm.DB, before time.Time) (int64, error) {
	if db == nil {
		return 0, errNilDB
	}
	res := db.WithContext(ctx).Exec(`DELETE FROM inbox_deliveries WHERE created_at < ? AND status <> 'sending'`, before)
	if res.Error != nil {
		return 0, fmt.Errorf("inbox: ledger prune: %w", res.Error)
	}
	return res.RowsAffected, nil
}

func (k Key) validate() error {
	if k.Inbox == "" || k.Event.Domain == "" || k.Event.ID <= 0 {
		return &ConfigError{Field: "Key", Reason: fmt.Sprintf("%+v needs an inbox, a domain and an event id", k)}
	}
	return nil
}

var errNilDB = &ConfigError{Field: "db", Reason: "is nil: pass the *gorm.DB (or the transaction) to work in"}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
