package activity_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// partitionOf returns the partition holding event id of table.
func partitionOf(t *testing.T, table string, id int64) string {
	t.Helper()
	var name string
	if err := testDB.Raw("SELECT tableoid::regclass::text FROM "+table+" WHERE id = ?", id).Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	return name
}

// A partitioned domain works across partitions: events backfilled into
// months without a partition wait in the default partition until Maintain
// makes theirs; keyset feeds page across partitions; lookups by id and
// causation find old events; a throttled repeat moves its event into the
// new month's partition; Replay sees every event; Maintain drops the
// partitions past retention and nothing else.
func TestPartitionedDomain(t *testing.T) {
	ctx := context.Background()
	ck := &testClock{t: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	d := freshDomain(t, activity.DomainConfig{Name: "parted", Now: ck.Now, Partition: &activity.Partitioning{}, Retention: 200 * 24 * time.Hour})
	if p, ok := d.Partitioned(); !ok || p.Interval != activity.Monthly || p.Premake != activity.DefaultPremake {
		t.Fatalf("Partitioned() = %+v, %v; want monthly, premake %d", p, ok, activity.DefaultPremake)
	}
	u, i := fixture(t)
	var all []activity.Event
	if _, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: ck.Now(), Since: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	for month := time.June; month <= time.November; month++ {
		for day := 10; day <= 11; day++ {
			r, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u),
				activity.OccurredAt(time.Date(2026, month, day, 9, 0, 0, 0, time.UTC)))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, r.Event)
		}
	}
	m, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: ck.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("maintain: %+v", m)
	for _, e := range all {
		want := fmt.Sprintf("parted_p%04d%02d01", e.OccurredAt.Year(), e.OccurredAt.Month())
		if got := partitionOf(t, "parted_events", e.ID); got != strings.Replace(want, "parted_p", "parted_events_p", 1) {
			t.Errorf("event of %s is in %s, want %s", e.OccurredAt.Format("2006-01-02"), got, want)
		}
	}
	for _, ahead := range []string{"parted_events_p20261201", "parted_events_p20270301"} {
		var n int64
		testDB.Raw("SELECT count(*) FROM pg_class WHERE relname = ?", ahead).Scan(&n)
		if n != 1 {
			t.Errorf("partition %s ahead was not created", ahead)
		}
	}
	// Feeds page across partitions, newest first.
	var paged []int64
	q := activity.FeedQuery{Subject: i.ID, Limit: 5}
	for {
		page, err := d.Feed(ctx, testDB, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events() {
			paged = append(paged, e.ID)
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	var want []int64
	for k := len(all) - 1; k >= 0; k-- {
		want = append(want, all[k].ID)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("feed pages = %v, want %v", paged, want)
	}
	// Lookup by id and causation.
	old := all[0]
	if got, err := d.Event(ctx, testDB, old.ID); err != nil || got.ID != old.ID {
		t.Errorf("Event(%d) = %v, %v", old.ID, got.ID, err)
	}
	effect, err := d.RecordEvent(activity.WithCause(ctx, activity.CauseOf(old)), testDB, i.ID, "comment_added", activity.Actor(&u))
	if err != nil {
		t.Fatal(err)
	}
	ref := old.Ref()
	caused, err := d.Feed(ctx, testDB, activity.FeedQuery{CausedBy: &ref})
	if err != nil || len(caused.Entries) != 1 || caused.Entries[0].ID != effect.Event.ID {
		t.Errorf("caused by the June event: %v, %v; want the effect", caused.Events(), err)
	}
	// A throttled repeat across a month boundary moves its event.
	ck.t = time.Date(2026, 11, 30, 23, 55, 0, 0, time.UTC)
	first, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.ThrottleWithin(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ck.t = time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC)
	again, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.ThrottleWithin(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Throttled || again.Event.ID != first.Event.ID || again.Event.Repeats != 1 {
		t.Fatalf("repeat across the boundary: throttled %v, id %d (first %d), repeats %d", again.Throttled, again.Event.ID, first.Event.ID, again.Event.Repeats)
	}
	if got := partitionOf(t, "parted_events", first.Event.ID); got != "parted_events_p20261201" {
		t.Errorf("throttled event is in %s, want parted_events_p20261201", got)
	}
	// Replay sees every event once.
	n := 0
	for _, err := range d.Replay(ctx, testDB, activity.HistoryQuery{Subject: i.ID}, 4) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(all)+2 {
		t.Errorf("replay: %d events, want %d", n, len(all)+2)
	}
	// Retention: 200 days before 2027-01-20 is 2026-07-04: June goes.
	m, err = d.Maintain(ctx, testDB, activity.MaintainConfig{Now: time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Dropped, []string{"parted_events_p20260601"}) {
		t.Errorf("dropped %v, want June's partition only", m.Dropped)
	}
	if got := countEvents(t, d, i.ID); got != int64(len(all)) {
		t.Errorf("after retention: %d events, want %d (June's 2 gone)", got, len(all))
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Errorf("recording after maintenance: %v", err)
	}
}

// explain returns the plan of a feed page.
func explain(t *testing.T, d *activity.Domain, q activity.FeedQuery, analyze bool) string {
	t.Helper()
	sql, vars, err := d.FeedSQL(context.Background(), testDB, q)
	if err != nil {
		t.Fatal(err)
	}
	opt := "(COSTS OFF)"
	if analyze {
		opt = "(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)"
	}
	var lines []string
	if err := testDB.Raw("EXPLAIN "+opt+" "+sql, vars...).Scan(&lines).Error; err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// Feed queries prune partitions: a page after a cursor never plans the
// partitions newer than the cursor, and the head of a subject's feed
// stops at the newest partitions that fill it.
func TestPartitionPruning(t *testing.T) {
	ctx := context.Background()
	d := freshDomain(t, activity.DomainConfig{Name: "pruned", Partition: &activity.Partitioning{}})
	u, i := fixture(t)
	var evs []activity.Event
	if _, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC), Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	for month := time.January; month <= time.December; month++ {
		for day := 1; day <= 25; day++ {
			r, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u),
				activity.OccurredAt(time.Date(2025, month, day, 9, 0, 0, 0, time.UTC)))
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, r.Event)
		}
	}
	if _, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	testDB.Exec("ANALYZE pruned_events")
	// A cursor in March: April onwards is not planned.
	page, err := d.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Limit: 1, Since: time.Time{}})
	if err != nil {
		t.Fatal(err)
	}
	_ = page
	march := evs[2*25+10]
	cur := activity.CursorAt(march)
	plan := explain(t, d, activity.FeedQuery{Subject: i.ID, After: cur, Limit: 20}, false)
	if !strings.Contains(plan, "pruned_events_p20250301") || strings.Contains(plan, "pruned_events_p20250401") || strings.Contains(plan, "pruned_events_p20251201") {
		t.Errorf("a page after a March cursor plans newer partitions:\n%s", plan)
	}
	whole := explain(t, d, activity.FeedQuery{After: cur, Limit: 20}, false)
	if strings.Contains(whole, "pruned_events_p20250401") {
		t.Errorf("the domain's feed after a March cursor plans April:\n%s", whole)
	}
	// The head of the subject's feed reads December only.
	head := explain(t, d, activity.FeedQuery{Subject: i.ID, Limit: 20}, true)
	t.Logf("head plan:\n%s", head)
	for _, l := range strings.Split(head, "\n") {
		if strings.Contains(l, "pruned_events_p20250101") && !strings.Contains(l, "never executed") {
			t.Errorf("the head of the feed reads January's partition:\n%s", head)
		}
	}
}

// An event whose time has no partition is refused with a *PartitionError
// before anything is written, without aborting the caller's transaction;
// once Maintain made its partition (Since), it records.
func TestPartitionMissing(t *testing.T) {
	ctx := context.Background()
	d := freshDomain(t, activity.DomainConfig{Name: "gapped", Partition: &activity.Partitioning{Interval: activity.Daily, Premake: 2}})
	u, i := fixture(t)
	old := time.Date(2019, 3, 1, 12, 0, 0, 0, time.UTC)
	var pe *activity.PartitionError
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.OccurredAt(old)); !errors.As(err, &pe) || !errors.Is(err, activity.ErrNoPartition) || !pe.OccurredAt.Equal(old) {
		t.Fatalf("err = %v, want a *PartitionError at %v", err, old)
	}
	err := testDB.Transaction(func(tx *gorm.DB) error {
		_, err := d.RecordEvents(ctx, tx, []activity.NewEvent{
			{Subject: i.ID, Action: "comment_added"},
			{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.OccurredAt(old)}},
		}, activity.Actor(&u))
		if !errors.As(err, &pe) {
			t.Errorf("bulk: err = %v, want a *PartitionError", err)
		}
		_, err = d.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u))
		return err // the transaction is usable
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Since: old.Add(-24 * time.Hour), Now: old.Add(24 * time.Hour)})
	if err != nil || len(m.Created) != 5 {
		t.Fatalf("maintain since %v: %+v, %v; want Feb 28 to Mar 4 (2 ahead of Mar 2)", old, m, err)
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.OccurredAt(old)); err != nil {
		t.Errorf("after Maintain made its partition: %v", err)
	}
}

// Where pg_partman is installed, the migration hands the table to it
// (create_parent, no default partition) and Maintain runs its maintenance
// with the domain's retention.
func TestPartman(t *testing.T) {
	ctx := context.Background()
	if err := testDB.Exec("CREATE SCHEMA IF NOT EXISTS partman; CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman").Error; err != nil {
		t.Fatalf("pg_partman (Debian package postgresql-15-partman, installed by scripts/services): %v", err)
	}
	t.Cleanup(func() { testDB.Exec("DROP EXTENSION IF EXISTS pg_partman; DROP SCHEMA IF EXISTS partman CASCADE") })
	cfg := activity.DomainConfig{Name: "partmanned", Partition: &activity.Partitioning{}}
	d := freshDomain(t, cfg)
	var n int64
	testDB.Raw("SELECT count(*) FROM partman.part_config WHERE parent_table = 'public.partmanned_events'").Scan(&n)
	if n != 1 {
		t.Fatal("the migration did not register the table with pg_partman")
	}
	testDB.Raw("SELECT count(*) FROM pg_class WHERE relname = 'partmanned_events_default'").Scan(&n)
	if n != 0 {
		t.Error("the default partition is still there")
	}
	u, i := fixture(t)
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := now.AddDate(0, -5, 0)
	m, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Since: old})
	if err != nil || !m.Partman || len(m.Created) < 5 {
		t.Fatalf("maintain since 5 months ago: %+v, %v; want 5 older partitions created by pg_partman", m, err)
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.OccurredAt(old)); err != nil {
		t.Fatal(err)
	}
	cfg.Retention = 60 * 24 * time.Hour
	kept := activity.MustDomain(activity.DomainConfig{Name: "partmanned", Subject: activity.Subject{Table: "issues"}, Actions: []string{"comment_added"}, Partition: cfg.Partition, Retention: cfg.Retention})
	m, err = kept.Maintain(ctx, testDB, activity.MaintainConfig{})
	if err != nil || len(m.Dropped) < 2 {
		t.Fatalf("maintain with 60 days' retention: %+v, %v; want the partitions older than 60 days dropped", m, err)
	}
	if got := countEvents(t, d, i.ID); got != 1 {
		t.Errorf("after retention: %d events, want 1 (the old one gone)", got)
	}
}

// Two Maintain calls at once create and drop each partition once, without
// an error.
func TestMaintainConcurrently(t *testing.T) {
	ctx := context.Background()
	d := freshDomain(t, activity.DomainConfig{Name: "racing", Partition: &activity.Partitioning{Interval: activity.Daily, Premake: 3}, Retention: 5 * 24 * time.Hour})
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	seedDays := activity.MustDomain(activity.DomainConfig{Name: "racing", Subject: activity.Subject{Table: "issues"}, Actions: []string{"comment_added"}, Partition: &activity.Partitioning{Interval: activity.Daily, Premake: 3}})
	if _, err := seedDays.Maintain(ctx, testDB, activity.MaintainConfig{Now: now.AddDate(0, 0, -20), Since: now.AddDate(0, 0, -30)}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	results := make(chan activity.Maintenance, 2)
	for range 2 {
		go func() {
			m, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: now})
			results <- m
			errs <- err
		}()
	}
	created, dropped := map[string]int{}, map[string]int{}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		m := <-results
		for _, n := range m.Created {
			created[n]++
		}
		for _, n := range m.Dropped {
			dropped[n]++
		}
	}
	for n, k := range created {
		if k > 1 {
			t.Errorf("%s created %d times", n, k)
		}
	}
	var left int64
	testDB.Raw("SELECT count(*) FROM pg_class WHERE relname ~ '^racing_events_p' AND relname < 'racing_events_p20261115'").Scan(&left)
	if left != 0 {
		t.Errorf("%d expired partitions left (dropped: %v)", left, dropped)
	}
}

// A partitioned domain refuses events dated past now + FutureSkew (its
// feeds read from now backwards); an unpartitioned one does not.
func TestPartitionedFuture(t *testing.T) {
	ctx := context.Background()
	ck := &testClock{t: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	d := freshDomain(t, activity.DomainConfig{Name: "dated", Now: ck.Now, Partition: &activity.Partitioning{}})
	if _, err := d.Maintain(ctx, testDB, activity.MaintainConfig{}); err != nil {
		t.Fatal(err)
	}
	u, i := fixture(t)
	later := ck.Now().Add(activity.FutureSkew + time.Minute)
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.OccurredAt(later)); !errors.Is(err, activity.ErrInvalidOption) {
		t.Errorf("an event dated %v: err = %v, want ErrInvalidOption", later, err)
	}
	if _, err := d.RecordEvents(ctx, testDB, []activity.NewEvent{{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.OccurredAt(later)}}}, activity.Actor(&u)); !errors.Is(err, activity.ErrInvalidOption) {
		t.Errorf("bulk: err = %v, want ErrInvalidOption", err)
	}
	// Within the skew, at a month's end: the head of the feed shows it.
	ck.t = time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	soon, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.OccurredAt(time.Date(2026, 12, 1, 0, 15, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	page, err := d.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Limit: 1})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].ID != soon.Event.ID {
		t.Errorf("head of the feed = %v, %v; want the event dated in December", page.Events(), err)
	}
	if _, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.OccurredAt(clock.Now().AddDate(1, 0, 0))); err != nil {
		t.Errorf("unpartitioned domain, event a year ahead: %v", err)
	}
}

// A detached partition that cannot be dropped (a view of the app's depends
// on it) fails Maintain with its name, while the other expired partitions,
// dropped alongside, go and are reported; once the view is gone, the next
// call drops the table left behind. A negative DropConcurrency is refused.
func TestMaintainDropFails(t *testing.T) {
	ctx := context.Background()
	cfg := activity.DomainConfig{Name: "dropfail", Partition: &activity.Partitioning{Interval: activity.Daily, Premake: 1}, Retention: 5 * 24 * time.Hour}
	d := freshDomain(t, cfg)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	if _, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: now.AddDate(0, 0, -9), Since: now.AddDate(0, 0, -10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: now, DropConcurrency: -1}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("DropConcurrency -1: err = %v, want the OptionError", err)
	}
	const pinned = "dropfail_events_p20261112"
	if err := testDB.Exec(`CREATE VIEW dropfail_pinned AS SELECT * FROM ` + pinned).Error; err != nil {
		t.Fatal(err)
	}
	m, err := d.Maintain(ctx, testDB, activity.MaintainConfig{Now: now, DropConcurrency: 2})
	if err == nil || !strings.Contains(err.Error(), pinned) {
		t.Fatalf("Maintain with %s pinned by a view: err = %v, want one naming it", pinned, err)
	}
	if len(m.Dropped) < 2 || slices.Contains(m.Dropped, pinned) {
		t.Errorf("dropped %v: want the other expired days, not %s", m.Dropped, pinned)
	}
	var left []string
	testDB.Raw(`SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relname ~ '^dropfail_events_p' AND relname < 'dropfail_events_p20261115' ORDER BY 1`).Scan(&left)
	if !slices.Equal(left, []string{pinned}) {
		t.Errorf("expired tables left: %v, want only %s", left, pinned)
	}
	if err := testDB.Exec(`DROP VIEW dropfail_pinned`).Error; err != nil {
		t.Fatal(err)
	}
	m, err = d.Maintain(ctx, testDB, activity.MaintainConfig{Now: now})
	if err != nil || !slices.Equal(m.Dropped, []string{pinned}) {
		t.Errorf("second Maintain: dropped %v, %v; want the stray %s", m.Dropped, err, pinned)
	}
}
