package activity

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PartitionInterval is the time span of one partition of a partitioned
// events table.
type PartitionInterval string

// The partition intervals.
const (
	Monthly PartitionInterval = "1 month" // the default
	Weekly  PartitionInterval = "1 week"  // ISO weeks, from Monday
	Daily   PartitionInterval = "1 day"
)

// Partitioning lays a domain's events table out in time partitions by
// occurred_at (DomainConfig.Partition). MigrationSQL creates the table
// PARTITION BY RANGE (occurred_at) with a primary key of (id, occurred_at)
// and partitions from the current one to Premake ahead. Where
// the pg_partman extension is installed when the migration runs, it calls
// pg_partman's create_parent instead and pg_partman keeps the partitions;
// elsewhere the domain's Maintain does it with plain DDL. Either way, call
// Maintain regularly (package retention's job does): it creates the
// partitions ahead and drops the ones past DomainConfig.Retention.
//
// There is no default partition: with one, no partition could be detached
// CONCURRENTLY (so retention would block recording), and a time bound
// would not prune it. So an event whose time has no partition is refused,
// with a *PartitionError, without aborting the caller's transaction:
// before backfilling events of the past, create their partitions with
// Maintain (MaintainConfig.Since).
//
// Every read and write works across partitions: recording (the throttle
// function moves a repeated event into the current partition), feeds with
// keyset cursors, history, replay, lookups by id (one index probe per
// partition) and the relay. A feed page first reads the partition of its
// newest bound (now, or the cursor), planned alone
// (the planner costs about 0.1 ms per partition it considers), and the
// older partitions only when the page is not full; a cursor bounds
// occurred_at, so later pages skip the newer partitions. So events are
// never dated past now + FutureSkew.
type Partitioning struct {
	// Interval is each partition's span. Default Monthly.
	Interval PartitionInterval
	// Premake is how many partitions exist ahead of the current one.
	// Default 4.
	Premake int
}

// DefaultPremake is the default of Partitioning.Premake.
const DefaultPremake = 4

// FutureSkew is how far past its clock a partitioned domain records: an
// OccurredAt later than now + FutureSkew is refused (an *OptionError).
// Events are what happened; a feed page reads the partition holding now
// (and, near its end, the next) before the older ones, and would miss
// events dated further ahead. The skew absorbs clocks that differ between
// the processes recording and reading.
const FutureSkew = time.Hour

// checkFuture refuses a time past now + FutureSkew in a partitioned domain.
func (d *Domain) checkFuture(t, now time.Time) error {
	if d.partition != nil && t.After(now.Add(FutureSkew)) {
		return &OptionError{Option: OccurredAt(t).String(), Reason: fmt.Sprintf("is later than now + %v: a partitioned domain records what happened, not what will (its feeds read from now backwards)", FutureSkew)}
	}
	return nil
}

// Partitioned reports whether the domain's events table is partitioned by
// time, and how.
func (d *Domain) Partitioned() (Partitioning, bool) {
	if d.partition == nil {
		return Partitioning{}, false
	}
	return *d.partition, true
}

// Retention is how long the domain keeps events (0: forever).
func (d *Domain) Retention() time.Duration { return d.retention }

func (d *Domain) declarePartition(cfg DomainConfig) error {
	bad := func(field, format string, args ...any) error {
		return &DomainError{Domain: cfg.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if cfg.Retention < 0 {
		return bad("Retention", "is negative: use a positive duration, or 0 to keep events forever")
	}
	d.retention = cfg.Retention
	if cfg.Partition == nil {
		return nil
	}
	p := *cfg.Partition
	switch p.Interval {
	case "":
		p.Interval = Monthly
	case Monthly, Weekly, Daily:
	default:
		return bad("Partition.Interval", "%q is not supported; use activity.Monthly, activity.Weekly or activity.Daily", p.Interval)
	}
	switch {
	case p.Premake < 0 || p.Premake > 120:
		return bad("Partition.Premake", "is %d; use 1 to 120, or 0 for the default (%d)", p.Premake, DefaultPremake)
	case p.Premake == 0:
		p.Premake = DefaultPremake
	}
	if cfg.Retention > 0 && cfg.Retention < p.Interval.approx() {
		return bad("Retention", "%v is shorter than one partition (%s): partitions are dropped whole; use a longer retention or a shorter interval", cfg.Retention, p.Interval)
	}
	d.partition = &p
	return nil
}

// approx is the interval's shortest length.
func (i PartitionInterval) approx() time.Duration {
	switch i {
	case Daily:
		return 24 * time.Hour
	case Weekly:
		return 7 * 24 * time.Hour
	}
	return 28 * 24 * time.Hour
}

// start truncates t (in UTC) to the start of its interval.
func (i PartitionInterval) start(t time.Time) time.Time {
	t = t.UTC()
	y, m, day := t.Date()
	switch i {
	case Daily:
		return time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
	case Weekly:
		d := time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	}
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// next is the start of the interval after the one starting at s.
func (i PartitionInterval) next(s time.Time) time.Time {
	switch i {
	case Daily:
		return s.AddDate(0, 0, 1)
	case Weekly:
		return s.AddDate(0, 0, 7)
	}
	return s.AddDate(0, 1, 0)
}

// partitionName names the library's partition starting at s.
func partitionName(table string, s time.Time) string {
	return table + "_p" + s.Format("20060102")
}

// defaultPartition names the partition that catches the rest.
func defaultPartition(table string) string { return table + "_default" }

// partitionSetupSQL creates the partitions of a new partitioned table:
// through pg_partman when the extension is installed, else the default
// partition and the current one to Premake ahead, in UTC.
func partitionSetupSQL(d *Domain) string {
	p := d.partition
	retention := "NULL"
	if d.retention > 0 {
		retention = fmt.Sprintf("'%d seconds'", int64(d.retention/time.Second))
	}
	trunc := map[PartitionInterval]string{Monthly: "month", Weekly: "week", Daily: "day"}[p.Interval]
	return fmt.Sprintf(`-- time partitions: pg_partman keeps them where it is installed; elsewhere
-- activity's Domain.Maintain does, with plain DDL
DO $part$
DECLARE
    v_partman text;
    v_parent  text := quote_ident(current_schema()) || '.%[1]s';
    v_base    timestamp := date_trunc('%[4]s', now() AT TIME ZONE 'UTC');
    v_lo      timestamp;
BEGIN
    SELECT n.nspname INTO v_partman FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman';
    IF v_partman IS NOT NULL THEN
        EXECUTE format('SELECT %%I.create_parent(p_parent_table := %%L, p_control := %%L, p_type := %%L, p_interval := %%L, p_premake := %%s, p_start_partition := %%L)',
            v_partman, v_parent, 'occurred_at', 'native', '%[2]s', %[3]d, (v_base AT TIME ZONE 'UTC')::text);
        EXECUTE format('UPDATE %%I.part_config SET infinite_time_partitions = true, ignore_default_data = true, retention = %%L, retention_keep_table = false WHERE parent_table = %%L',
            v_partman, %[5]s, v_parent);
        -- no default partition: it would stop the planner from reading
        -- the partitions in time order (see Partitioning)
        DROP TABLE IF EXISTS %[6]s;
    ELSE
        FOR i IN 0..%[3]d LOOP
            v_lo := v_base + ('%[2]s'::interval * i);
            EXECUTE format('CREATE TABLE %%I PARTITION OF %[1]s FOR VALUES FROM (%%L) TO (%%L)',
                '%[1]s_p' || to_char(v_lo, 'YYYYMMDD'), (v_lo AT TIME ZONE 'UTC')::text, ((v_lo + '%[2]s'::interval) AT TIME ZONE 'UTC')::text);
        END LOOP;
    END IF;
END
$part$;
`, d.table, p.Interval, p.Premake, trunc, retention, defaultPartition(d.table))
}

// partitionTeardownSQL forgets a dropped table in pg_partman's
// configuration, where it was registered.
func partitionTeardownSQL(d *Domain) string {
	return fmt.Sprintf(`DO $part$
DECLARE
    v_partman text;
BEGIN
    SELECT n.nspname INTO v_partman FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman';
    IF v_partman IS NOT NULL THEN
        EXECUTE format('DELETE FROM %%I.part_config WHERE parent_table = %%L', v_partman, quote_ident(current_schema()) || '.%[1]s');
        EXECUTE format('DROP TABLE IF EXISTS %%I.%%I', v_partman, 'template_' || current_schema() || '_%[1]s');
    END IF;
END
$part$;
`, d.table)
}

// PartitionError reports an event whose time falls in no partition of a
// partitioned domain's table (wrapping ErrNoPartition).
type PartitionError struct {
	Domain     string
	OccurredAt time.Time
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("activity: domain %s has no partition for events at %s: create the partitions of a backfill first, with Domain.Maintain(ctx, db, activity.MaintainConfig{Since: ...})",
		e.Domain, e.OccurredAt.UTC().Format(time.RFC3339))
}

func (e *PartitionError) Is(target error) bool { return target == ErrNoPartition }

// checkPartitions refuses times outside every partition of a partitioned
// table before anything is written (an insert there would fail and abort
// the caller's transaction). One query, on the path of events recorded
// with an explicit OccurredAt only: the current time is covered by the
// partitions made ahead.
func (d *Domain) checkPartitions(ctx context.Context, db *gorm.DB, times []time.Time) error {
	if d.partition == nil || len(times) == 0 {
		return nil
	}
	rows, err := query(ctx, db, d.sql.uncovered, []any{times})
	if err != nil {
		return fmt.Errorf("activity: check the partitions of %s: %w", d.name, err)
	}
	defer rows.Close()
	var first sql.NullTime
	if rows.Next() {
		if err := rows.Scan(&first); err != nil {
			return fmt.Errorf("activity: check the partitions of %s: %w", d.name, err)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("activity: check the partitions of %s: %w", d.name, err)
	}
	if first.Valid {
		return &PartitionError{Domain: d.name, OccurredAt: first.Time}
	}
	return nil
}

// uncoveredSQL selects the earliest of $1's times that no partition of the
// domain's table holds, reading the partition bounds from the catalog.
func uncoveredSQL(d *Domain) string {
	return fmt.Sprintf(`SELECT min(t) FROM unnest($1::timestamptz[]) t WHERE NOT EXISTS (
SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS b) x
WHERE i.inhparent = to_regclass(quote_ident(current_schema()) || '.%s') AND NOT i.inhdetachpending
  AND t >= substring(x.b from $re$FROM \('([^']+)'\)$re$)::timestamptz AND t < substring(x.b from $re$TO \('([^']+)'\)$re$)::timestamptz)`, d.table)
}
