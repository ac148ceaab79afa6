package slack

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// GormThreads is a ThreadStore in PostgreSQL, in the table slack_threads
// (created by the library's migrations, see package migrations). It is a
// ThreadLocker across processes: every worker posting for a thread key
// takes its turn through PostgreSQL advisory locks (see LockThread).
type GormThreads struct {
	db *gorm.DB
}

// NewGormThreads returns a store on db.
func NewGormThreads(db *gorm.DB) *GormThreads { return &GormThreads{db: db} }

type threadRow struct {
	Domain    string `gorm:"column:domain;primaryKey"`
	SubjectID string `gorm:"column:subject_id;primaryKey"`
	Route     string `gorm:"column:route;primaryKey"`
	Tenant    string `gorm:"column:tenant_id;primaryKey"`
	ChannelID string `gorm:"column:channel_id"`
	TS        string `gorm:"column:ts"`
}

func (threadRow) TableName() string { return "slack_threads" }

// Get implements ThreadStore.
func (s *GormThreads) Get(ctx context.Context, key ThreadKey) (Thread, bool, error) {
	var row threadRow
	q := s.db.WithContext(ctx)
	if tenantfilter.On { // off in the tidings_rlsonly test build: the policies alone scope it
		q = q.Where("tenant_id = ?", key.Tenant)
	}
	err := q.Where("domain = ? AND subject_id = ? AND route = ?", key.Domain, key.SubjectID, key.Route).
		Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Thread{}, false, nil
	}
	if err != nil {
		return Thread{}, false, fmt.Errorf("slack: read thread of %s %s in %s: %w", key.Domain, key.SubjectID, key.Route, err)
	}
	return Thread{Channel: row.ChannelID, TS: row.TS}, true, nil
}

// Put implements ThreadStore: one statement, INSERT ... ON CONFLICT DO
// UPDATE, so concurrent Puts never fail on the key.
func (s *GormThreads) Put(ctx context.Context, key ThreadKey, channel, ts string) error {
	row := threadRow{Domain: key.Domain, SubjectID: key.SubjectID, Route: key.Route, Tenant: key.Tenant, ChannelID: channel, TS: ts}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "tenant_id"}, {Name: "domain"}, {Name: "subject_id"}, {Name: "route"}},
		DoUpdates: clause.Assignments(map[string]any{
			"channel_id": channel, "ts": ts, "updated_at": gorm.Expr("now()"),
		}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("slack: save thread of %s %s in %s: %w", key.Domain, key.SubjectID, key.Route, err)
	}
	return nil
}

// LockThread implements ThreadLocker across processes with advisory locks
// in one transaction of the store's database, held while fn runs (fn's
// store works in that transaction, so a parent saved by fn is committed
// before the next post of the key reads it):
//
//   - the post announces itself with a shared lock on (the key's 32-bit
//     hash, eventID's low 32 bits), which pg_locks shows to every session;
//   - it waits, looking at pg_locks every 10 to 100 ms, until no other
//     session announces an earlier event of the key;
//   - it takes the key's exclusive lock (its 64-bit hash), waiting at most
//     what is left of wait (lock_timeout).
//
// A worker that dies drops its locks with its connection. Each post in
// flight holds one connection (the pool needs one per concurrent Slack
// job). Event IDs are compared modulo 2^32 and keys by hash: a collision
// only makes two threads wait for each other.
func (s *GormThreads) LockThread(ctx context.Context, key ThreadKey, eventID int64, wait time.Duration, fn func(ctx context.Context, threads ThreadStore) error) error {
	fail := func(err error) error {
		return &APIError{Method: "chat.postMessage", Channel: key.Route,
			Err: fmt.Errorf("slack: take the turn of thread %s %s in %s: %w", key.Domain, key.SubjectID, key.Route, err)}
	}
	h := key.hash()
	announce, id := int64(uint32(h)), int64(uint32(eventID))
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return fail(tx.Error)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := tx.Exec(`SELECT pg_advisory_xact_lock_shared((?::bigint::oid)::int4, (?::bigint::oid)::int4)`, announce, id).Error; err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(wait)
	for poll := 10 * time.Millisecond; ; poll = min(2*poll, 100*time.Millisecond) {
		var earlier bool
		if err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
 AND classid = ?::bigint::oid AND objid < ?::bigint::oid AND pid <> pg_backend_pid())`, announce, id).Scan(&earlier).Error; err != nil {
			return fail(err)
		}
		if !earlier {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			return threadBusy(key, wait)
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(ctx.Err())
		case <-inbox.Stopping(ctx):
			t.Stop()
			return threadStopped(key)
		case <-t.C:
		}
	}
	left := max(time.Until(deadline), time.Millisecond)
	if err := tx.Exec(fmt.Sprintf(`SET LOCAL lock_timeout = %d`, left.Milliseconds()+1)).Error; err != nil {
		return fail(err)
	}
	// The wait for the lock gives up when the worker stops (the statement
	// is cancelled, the transaction and its connection dropped).
	lctx, stopped := inbox.UntilStopping(ctx)
	err := tx.WithContext(lctx).Exec(`SELECT pg_advisory_xact_lock(?::bigint)`, int64(h)).Error
	stopped()
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "55P03": // lock_not_available
			return threadBusy(key, wait)
		case ctx.Err() == nil && lctx.Err() != nil:
			return threadStopped(key)
		}
		return fail(err)
	}
	if err := tx.Exec(`SET LOCAL lock_timeout TO DEFAULT`).Error; err != nil {
		return fail(err)
	}
	if err := fn(ctx, &GormThreads{db: tx}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit().Error; err != nil {
		return fail(err)
	}
	return nil
}

// hash is the key's advisory lock key.
func (k ThreadKey) hash() uint64 {
	h := fnv.New64a()
	for _, s := range []string{k.Tenant, k.Domain, k.SubjectID, k.Route} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
