package activity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// MaintainConfig tunes Maintain. Zero fields take the documented defaults.
type MaintainConfig struct {
	// Now is the time retention is measured from. Default: the domain's
	// clock.
	Now time.Time
	// DeleteBatch is how many rows one DELETE statement removes, for
	// unpartitioned tables: each batch commits on its own, so no lock is
	// held long and a stopped run resumes where it stopped. Default 5000.
	DeleteBatch int
	// MaxBatches bounds the batches of one call (0: until done); the
	// report's Done says whether rows are left.
	MaxBatches int
	// LockTimeout bounds how long creating a partition waits for its
	// lock on the events table: past it the creation gives up and
	// retries, so recording never queues behind DDL stuck behind a long
	// reader. Default 100ms.
	LockTimeout time.Duration
	// Retries is how often a creation that timed out is retried.
	// Default 20.
	Retries int
	// Since also creates the partitions from Since's to the current one,
	// for a backfill of events of the past (partitioned domains).
	Since time.Time
	// DropConcurrency is how many detached partitions are dropped at
	// once, each in a statement of its own on the pool, while the next
	// ones detach. A drop's cost is the disk's: removing a partition's
	// files (about 170 MB for 420,000 events with their indexes) took
	// 30-200 ms each on a cloud disk mounted with discard, and several
	// at once overlap that wait. Default 4; 1 drops one at a time.
	DropConcurrency int
}

// Maintenance reports what Maintain did.
type Maintenance struct {
	Domain string
	// Partman is true when pg_partman keeps the table's partitions.
	Partman bool
	// Created and Dropped name the partitions created and dropped.
	Created, Dropped []string
	// Deleted counts the events deleted in batches (an unpartitioned
	// table), and Outbox the outbox rows left behind by events past
	// retention.
	Deleted, Outbox int64
	// Batches counts the DELETE statements.
	Batches int
	// Done is false when MaxBatches stopped the deletes early.
	Done bool
	// Busy is true when another Maintain of the same table was running:
	// this call did nothing (calls on one table run one at a time).
	Busy bool
	// Took is the call's duration.
	Took time.Duration
}

// Default values of MaintainConfig.
const (
	DefaultDeleteBatch     = 5000
	DefaultLockTimeout     = 100 * time.Millisecond
	DefaultDropConcurrency = 4
)

// Maintain keeps the domain's events table: for a partitioned table it
// creates the partitions due within Premake intervals and drops those
// entirely older than Retention (through pg_partman's run_maintenance
// where pg_partman manages the table, else with plain DDL: CREATE TABLE
// ... PARTITION OF, and DETACH ... CONCURRENTLY, then DROP TABLE of the
// detached tables, DropConcurrency at a time, so recording is never
// blocked); for an unpartitioned table it deletes the events older than
// Retention in batches. The domain's outbox rows older than Retention go
// too, in batches. It is safe to run concurrently with recording and with
// itself, and to stop at any point: a new call carries on (a detach left
// pending is finalized, a detached table left behind is dropped). Run it
// on the pool, not in a transaction (DETACH CONCURRENTLY cannot run in
// one).
func (d *Domain) Maintain(ctx context.Context, db *gorm.DB, cfg MaintainConfig) (Maintenance, error) {
	if db == nil {
		return Maintenance{}, ErrNilDB
	}
	started := time.Now()
	if cfg.Now.IsZero() {
		cfg.Now = d.now()
	}
	cfg.DeleteBatch = cmp.Or(cfg.DeleteBatch, DefaultDeleteBatch)
	cfg.LockTimeout = cmp.Or(cfg.LockTimeout, DefaultLockTimeout)
	cfg.Retries = cmp.Or(cfg.Retries, 20)
	cfg.DropConcurrency = cmp.Or(cfg.DropConcurrency, DefaultDropConcurrency)
	if cfg.DeleteBatch < 0 || cfg.MaxBatches < 0 || cfg.LockTimeout < 0 || cfg.Retries < 0 || cfg.DropConcurrency < 0 {
		return Maintenance{}, &OptionError{Option: "MaintainConfig", Reason: "has a negative field; use positive values, or 0 for the defaults"}
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
	m := Maintenance{Domain: d.name, Done: true}
	// One call per table at a time: a session lock held on a connection
	// of its own (released if the process dies), so a second call returns
	// at once instead of racing the first one's DDL.
	sqlDB, err := db.DB()
	if err != nil {
		return m, fmt.Errorf("activity: maintain %s: run it on the pool, not in a transaction: %w", d.name, err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return m, fmt.Errorf("activity: maintain %s: %w", d.name, err)
	}
	defer conn.Close()
	lockKey := "tidings maintain " + d.table
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, lockKey).Scan(&locked); err != nil {
		return m, fmt.Errorf("activity: maintain %s: %w", d.name, err)
	}
	if !locked {
		m.Busy, m.Took = true, time.Since(started)
		return m, nil
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey) //nolint:errcheck // closing the connection's session releases it too

	var cutoff time.Time
	if d.retention > 0 {
		cutoff = cfg.Now.Add(-d.retention)
	}
	switch {
	case d.partition != nil:
		err = d.maintainPartitions(ctx, db, cfg, cutoff, &m)
	case !cutoff.IsZero():
		err = d.deleteBatches(db, cfg, &m, &m.Deleted, d.table, "occurred_at < ?", cutoff)
	}
	if err == nil && !cutoff.IsZero() {
		err = d.deleteBatches(db, cfg, &m, &m.Outbox, OutboxTable, "domain = ? AND created_at < ?", d.name, cutoff)
	}
	m.Took = time.Since(started)
	if err != nil {
		return m, fmt.Errorf("activity: maintain %s: %w", d.name, err)
	}
	return m, nil
}

// deleteBatches deletes the rows of table matching where, DeleteBatch at a
// time, each batch one statement of its own.
func (d *Domain) deleteBatches(db *gorm.DB, cfg MaintainConfig, m *Maintenance, count *int64, table, where string, args ...any) error {
	stmt := `DELETE FROM ` + table + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + table + ` WHERE ` + where + ` LIMIT ?))`
	for {
		if cfg.MaxBatches > 0 && m.Batches >= cfg.MaxBatches {
			m.Done = false
			return nil
		}
		res := db.Exec(stmt, append(args, cfg.DeleteBatch)...)
		if res.Error != nil {
			return fmt.Errorf("delete from %s: %w", table, res.Error)
		}
		m.Batches++
		*count += res.RowsAffected
		if res.RowsAffected < int64(cfg.DeleteBatch) {
			return nil
		}
	}
}

// partmanSchema returns the schema of pg_partman, quoted, when it manages
// the domain's table, else "".
func (d *Domain) partmanSchema(db *gorm.DB) (string, error) {
	var schema []string
	if err := db.Raw(`SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'`).Scan(&schema).Error; err != nil {
		return "", err
	}
	if len(schema) == 0 {
		return "", nil
	}
	s := pgx.Identifier{schema[0]}.Sanitize()
	var n int64
	if err := db.Raw(`SELECT count(*) FROM `+s+`.part_config WHERE parent_table = quote_ident(current_schema()) || '.' || ?`, d.table).Scan(&n).Error; err != nil {
		return "", err
	}
	if n == 0 {
		return "", nil
	}
	return s, nil
}

// partition is one partition of the domain's table.
type partition struct {
	Name    string
	Pending bool // a DETACH CONCURRENTLY that did not finish
}

// partitions lists the partitions of the domain's table.
func (d *Domain) partitions(db *gorm.DB) ([]partition, error) {
	var ps []partition
	err := db.Raw(`SELECT c.relname::text AS name, i.inhdetachpending AS pending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(quote_ident(current_schema()) || '.' || ?) ORDER BY 1`, d.table).Scan(&ps).Error
	return ps, err
}

// hasPartition reports whether name is a partition of the domain's table.
func (d *Domain) hasPartition(db *gorm.DB, name string) bool {
	ps, err := d.partitions(db)
	return err == nil && slices.Contains(names(ps), name)
}

func names(ps []partition) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// due lists the starts of the partitions that must exist at now: from
// since's (if earlier) to Premake past now's.
func (p Partitioning) due(now, since time.Time) []time.Time {
	cur := p.Interval.start(now)
	s := cur
	if !since.IsZero() && since.Before(cur) {
		s = p.Interval.start(since)
	}
	var out []time.Time
	for ; s.Before(cur); s = p.Interval.next(s) {
		out = append(out, s)
	}
	for range p.Premake + 1 {
		out = append(out, s)
		s = p.Interval.next(s)
	}
	return out
}

func (d *Domain) maintainPartitions(ctx context.Context, db *gorm.DB, cfg MaintainConfig, cutoff time.Time, m *Maintenance) error {
	before, err := d.partitions(db)
	if err != nil {
		return err
	}
	if len(before) == 0 {
		return fmt.Errorf("%s has no partitions: create it with MigrationSQL of a domain with Partition set", d.table)
	}
	partman, err := d.partmanSchema(db)
	if err != nil {
		return err
	}
	if partman != "" {
		m.Partman = true
		return d.maintainPartman(db, partman, cfg, cutoff, before, m)
	}
	p := d.partition
	for _, s := range p.due(cfg.Now, cfg.Since) {
		if !cutoff.IsZero() && !p.Interval.next(s).After(cutoff) {
			continue // past retention already
		}
		name := partitionName(d.table, s)
		if slices.Contains(names(before), name) {
			continue
		}
		if err := d.createPartition(ctx, db, cfg, name, s, p.Interval.next(s)); err != nil {
			if d.hasPartition(db, name) {
				continue // a concurrent Maintain made it
			}
			return err
		}
		m.Created = append(m.Created, name)
	}
	if cutoff.IsZero() {
		return nil
	}
	expired := func(name string) bool {
		sm := ownPartition(d.table).FindStringSubmatch(name)
		if sm == nil {
			return false
		}
		start, err := time.Parse("20060102", sm[1])
		return err == nil && !p.Interval.next(p.Interval.start(start)).After(cutoff)
	}
	// Each partition past retention is detached (CONCURRENTLY: recording
	// never waits on it; the detaches run one after another, as the
	// table allows) and handed to droppers that remove the detached
	// tables, each in its own statement, while the next one detaches.
	// Detached tables a stopped call left behind are dropped too.
	drops := newDropper(db, cfg.DropConcurrency)
	for _, part := range before {
		if !expired(part.Name) {
			continue
		}
		detach := `ALTER TABLE ` + d.table + ` DETACH PARTITION ` + part.Name + ` CONCURRENTLY`
		if part.Pending {
			detach = `ALTER TABLE ` + d.table + ` DETACH PARTITION ` + part.Name + ` FINALIZE`
		}
		if err := db.Exec(detach).Error; err != nil {
			m.Dropped = drops.wait()
			return errors.Join(fmt.Errorf("detach partition %s: %w", part.Name, err), drops.err)
		}
		drops.drop(part.Name)
	}
	var strays []string
	err = db.Raw(`SELECT relname::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND NOT relispartition AND relname ~ ? ORDER BY 1`,
		ownPartition(d.table).String()).Scan(&strays).Error
	if err == nil {
		for _, name := range strays {
			if expired(name) {
				drops.drop(name)
			}
		}
	}
	m.Dropped = drops.wait()
	return errors.Join(err, drops.err)
}

// dropper drops detached partitions, at most n at a time.
type dropper struct {
	db      *gorm.DB
	slots   chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	queued  map[string]bool
	dropped []string
	err     error // the first drop that failed (valid after wait)
}

func newDropper(db *gorm.DB, n int) *dropper {
	return &dropper{db: db, slots: make(chan struct{}, n), queued: map[string]bool{}}
}

// drop starts dropping table once a slot is free (a table already queued
// is skipped).
func (p *dropper) drop(table string) {
	p.mu.Lock()
	if p.queued[table] {
		p.mu.Unlock()
		return
	}
	p.queued[table] = true
	p.mu.Unlock()
	p.slots <- struct{}{}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.slots; p.wg.Done() }()
		err := p.db.Exec(`DROP TABLE IF EXISTS ` + table).Error
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.err = cmp.Or(p.err, fmt.Errorf("drop detached partition %s: %w", table, err))
			return
		}
		p.dropped = append(p.dropped, table)
	}()
}

// wait waits for the drops started and returns the tables dropped, sorted.
func (p *dropper) wait() []string {
	p.wg.Wait()
	slices.Sort(p.dropped)
	return p.dropped
}

func ownPartition(table string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(table) + `_p(\d{8})$`)
}

// maintainPartman runs pg_partman's maintenance of the table, with the
// domain's retention, and creates the partitions since cfg.Since.
func (d *Domain) maintainPartman(db *gorm.DB, partman string, cfg MaintainConfig, cutoff time.Time, before []partition, m *Maintenance) error {
	retention := any(nil)
	if !cutoff.IsZero() {
		retention = fmt.Sprintf("%d seconds", int64(d.retention/time.Second))
	}
	parent := gorm.Expr("quote_ident(current_schema()) || '.' || ?", d.table)
	if err := db.Exec(`UPDATE `+partman+`.part_config SET retention = ?, retention_keep_table = false, infinite_time_partitions = true, ignore_default_data = true WHERE parent_table = ?`, retention, parent).Error; err != nil {
		return err
	}
	if !cfg.Since.IsZero() {
		var times []string
		for _, s := range d.partition.due(cfg.Now, cfg.Since) {
			times = append(times, s.Format(time.RFC3339))
		}
		if err := db.Exec(`SELECT `+partman+`.create_partition_time(?, ?::timestamptz[])`, parent, "{"+strings.Join(times, ",")+"}").Error; err != nil {
			return fmt.Errorf("pg_partman create_partition_time: %w", err)
		}
	}
	if err := db.Exec(`SELECT `+partman+`.run_maintenance(p_parent_table := ?)`, parent).Error; err != nil {
		return fmt.Errorf("pg_partman run_maintenance: %w", err)
	}
	after, err := d.partitions(db)
	if err != nil {
		return err
	}
	for _, n := range names(after) {
		if !slices.Contains(names(before), n) {
			m.Created = append(m.Created, n)
		}
	}
	for _, n := range names(before) {
		if !slices.Contains(names(after), n) {
			m.Dropped = append(m.Dropped, n)
		}
	}
	return nil
}

// createPartition creates the partition [lo, hi), waiting at most
// LockTimeout for its lock each time: DDL waiting behind a long reader
// would otherwise hold up every recording queued behind it.
func (d *Domain) createPartition(ctx context.Context, db *gorm.DB, cfg MaintainConfig, name string, lo, hi time.Time) error {
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", max(1, cfg.LockTimeout.Milliseconds()))
	create := `CREATE TABLE IF NOT EXISTS ` + name + ` PARTITION OF ` + d.table +
		` FOR VALUES FROM ('` + lo.Format(time.RFC3339) + `') TO ('` + hi.Format(time.RFC3339) + `')`
	var err error
	for attempt := 0; attempt <= cfg.Retries; attempt++ {
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(timeout).Error; err != nil {
				return err
			}
			return tx.Exec(create).Error
		})
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55P03" { // lock_not_available
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.LockTimeout * time.Duration(attempt+1)):
		}
	}
	if err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	return nil
}
