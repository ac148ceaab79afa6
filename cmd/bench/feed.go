package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// feedGroup measures feed pages in a hot subject: the first page and a
// keyset page 100,000 events deep, in a subject holding 200,000 of
// 2,000,000 events, with actors and records resolved. The first page is
// the deep page's baseline: keyset paging should make depth free.
func feedGroup() group {
	return group{
		name:  "feed",
		about: "feed first page and a page 100,000 events deep in a subject of 200,000 among 2,000,000 events",
		run:   runFeed,
	}
}

const (
	feedTotal     = 2_000_000 // events in issue_events (at -scale 1)
	feedHotEvery  = 10        // one event in ten is the hot subject's: 200,000 of 2,000,000
	feedDeep      = 100_000   // the deep page starts after this many of the hot subject's events
	feedHot       = int64(1)  // the hot subject
	feedOthers    = 1000      // the other subjects (issues 2..1001) share the rest
	feedPageSize  = 20
	feedWalkLimit = activity.MaxPageSize // the page size used to walk to the deep cursor
)

func runFeed(ctx context.Context, b *bench) ([]figure, error) {
	total := b.size(feedTotal, 10_000)
	deep := b.size(feedDeep, feedWalkLimit)
	deep -= deep % feedWalkLimit
	started := time.Now()
	if err := loadFeed(ctx, b, total); err != nil {
		return nil, err
	}
	b.logf("feed: loaded %d events (%d in issue %d) in %s", total, total/feedHotEvery, feedHot, time.Since(started).Round(time.Millisecond))
	var hot int64
	if err := b.db.WithContext(ctx).Raw(`SELECT count(*) FROM issue_events WHERE subject_id = ?`, feedHot).Scan(&hot).Error; err != nil {
		return nil, fmt.Errorf("feed: count the hot subject's events: %w", err)
	}
	if hot != int64(total/feedHotEvery) {
		return nil, fmt.Errorf("feed: the hot subject holds %d events after the load, want %d", hot, total/feedHotEvery)
	}

	// Walk to the deep position the way a client would, in the largest
	// pages a feed serves.
	var cursor activity.Cursor
	for walked := 0; walked < deep; {
		page, err := b.issues.Feed(ctx, b.db, activity.FeedQuery{Subject: feedHot, Limit: feedWalkLimit, After: cursor})
		if err != nil {
			return nil, fmt.Errorf("feed: walk to the deep page: %w", err)
		}
		if page.Next == "" {
			return nil, fmt.Errorf("feed: the walk ended after %d events, before %d", walked+len(page.Entries), deep)
		}
		walked += len(page.Entries)
		cursor = page.Next
	}

	first := activity.FeedQuery{Subject: feedHot, Limit: feedPageSize}
	deepQ := activity.FeedQuery{Subject: feedHot, Limit: feedPageSize, After: cursor}
	for _, q := range []activity.FeedQuery{first, deepQ} {
		if err := checkPage(ctx, b, q); err != nil {
			return nil, err
		}
	}

	pool, err := newPool(ctx, b.dsn, 2)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if events, users, comments, err := baselineFeedPage(ctx, pool, feedHot, feedPageSize); err != nil {
		return nil, err
	} else if len(events) != feedPageSize || len(users) == 0 || len(comments) == 0 {
		return nil, fmt.Errorf("feed: the raw pgx page has %d events, %d users, %d comments", len(events), len(users), len(comments))
	}

	// The three pages run in turn, so whatever else the machine does
	// falls on all three alike.
	pages := []func() error{
		func() error { _, err := b.issues.Feed(ctx, b.db, first); return err },
		func() error { _, err := b.issues.Feed(ctx, b.db, deepQ); return err },
		func() error { _, _, _, err := baselineFeedPage(ctx, pool, feedHot, feedPageSize); return err },
	}
	runs := b.size(1000, 100)
	for i := range max(50, runs/10) { // warm up: caches, prepared statements, the pools
		for _, page := range pages {
			if err := page(); err != nil {
				return nil, fmt.Errorf("feed: warm up %d: %w", i, err)
			}
		}
	}
	b.logf("feed: %d runs each of the first page, the page %d deep and the raw first page, interleaved", runs, deep)
	took := make([][]time.Duration, len(pages))
	for range runs {
		for i, page := range pages {
			t := time.Now()
			if err := page(); err != nil {
				return nil, fmt.Errorf("feed: %w", err)
			}
			took[i] = append(took[i], time.Since(t))
		}
	}
	head, tail, raw := took[0], took[1], took[2]

	deepName := fmt.Sprintf("feed page %s deep", thousands(int64(deep)))
	figs := []figure{
		{Name: "feed first page, p50 (vs raw pgx)", Unit: "ms", Ours: ms(percentile(head, 50)), Baseline: ms(percentile(raw, 50))},
		{Name: "feed first page, p99 (vs raw pgx)", Unit: "ms", Ours: ms(percentile(head, 99)), Baseline: ms(percentile(raw, 99))},
		{Name: deepName + ", p50 (vs first page)", Unit: "ms", Ours: ms(percentile(tail, 50)), Baseline: ms(percentile(head, 50))},
		{Name: deepName + ", p99 (vs first page)", Unit: "ms", Ours: ms(percentile(tail, 99)), Baseline: ms(percentile(head, 99)),
			Target: target{MaxRatio: 1.3, Max: 2}},
	}
	b.note("feed: issues.Feed(ctx, gormDB, FeedQuery{Subject, Limit: %d, After}) in issue %d holding %s of %s events (the rest over %d issues, actors over %d users, records on comments); actors and records resolved through ModelResolver[User] and ModelResolver[Comment] (3 queries a page: the events, then the users and comments in one batch). %d runs of each page, interleaved. The first page's baseline is the same three queries through raw pgx, the model loads in one pgx batch too (the floor on this machine, no target); the deep page's baseline is the first page. The deep cursor came from walking %d pages of %d.",
		feedPageSize, feedHot, thousands(int64(total/feedHotEvery)), thousands(int64(total)), feedOthers, fixtureUsers,
		runs, deep/feedWalkLimit, feedWalkLimit)
	for _, p := range []struct {
		name string
		q    activity.FeedQuery
	}{{"first page", first}, {"deep page", deepQ}} {
		plan, err := explainFeed(ctx, b, p.q)
		if err != nil {
			return nil, err
		}
		b.note("feed: plan of the %s's events query, as Feed sends it: %s", p.name, plan)
	}
	return figs, nil
}

// checkPage makes sure a timed page is what it claims: a full page whose
// actors and records were loaded.
func checkPage(ctx context.Context, b *bench, q activity.FeedQuery) error {
	page, err := b.issues.Feed(ctx, b.db, q)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	if len(page.Entries) != q.Limit || page.Next == "" {
		return fmt.Errorf("feed: a page of the hot subject has %d entries, want %d and a next page", len(page.Entries), q.Limit)
	}
	for _, e := range page.Entries {
		if _, ok := e.ActorValue.(*User); !ok {
			return fmt.Errorf("feed: event %d's actor %s was not resolved to a *User (got %T)", e.ID, e.Actor(), e.ActorValue)
		}
		if _, ok := e.RecordValue.(*Comment); !ok {
			return fmt.Errorf("feed: event %d's record %s was not resolved to a *Comment (got %T)", e.ID, e.Record(), e.RecordValue)
		}
	}
	return nil
}

// loadFeed fills issue_events with total events, one in feedHotEvery of
// them the hot subject's, in one INSERT ... SELECT from generate_series,
// with the secondary indexes dropped around it and the foreign key check
// off (the rows are consistent by construction); then VACUUM ANALYZE.
func loadFeed(ctx context.Context, b *bench, total int) error {
	conn, err := pgx.Connect(ctx, b.dsn)
	if err != nil {
		return fmt.Errorf("feed: load: %w", err)
	}
	defer conn.Close(ctx)
	exec := func(sql string, args ...any) error {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("feed: load: %.60q: %w", sql, err)
		}
		return nil
	}
	if err := exec(`SET maintenance_work_mem = '512MB'`); err != nil {
		return err
	}
	if err := exec(`SET session_replication_role = replica`); err != nil { // skips the FK trigger per row
		return err
	}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'issue_events' AND indexname <> 'issue_events_pkey'`)
	if err != nil {
		return fmt.Errorf("feed: load: list indexes: %w", err)
	}
	type index struct{ name, def string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		return i, r.Scan(&i.name, &i.def)
	})
	if err != nil {
		return fmt.Errorf("feed: load: list indexes: %w", err)
	}
	for _, i := range indexes {
		if err := exec(`DROP INDEX ` + i.name); err != nil {
			return err
		}
	}
	var firstID int64
	if err := conn.QueryRow(ctx, `SELECT nextval('activity_event_id_seq')`).Scan(&firstID); err != nil {
		return fmt.Errorf("feed: load: reserve ids: %w", err)
	}
	if err := exec(`SELECT setval('activity_event_id_seq', $1::bigint)`, firstID+int64(total)-1); err != nil {
		return err
	}
	// Event g (1..total), one a second, the newest now. The hot subject
	// holds one in nine of the first nine tenths (a tenth of all events);
	// the newest tenth all belong to the others, so the hot subject's head
	// sits behind hundreds of thousands of newer events: a plan that walks
	// the domain's time index and filters by subject, instead of the
	// subject's own index, shows here. Actors, records and actions vary.
	b.logf("feed: inserting %d events", total)
	span := total / feedHotEvery * (feedHotEvery - 1)
	err = exec(fmt.Sprintf(`INSERT INTO issue_events (id, subject_id, action, actor_type, actor_id, actor_label,
		record_type, record_id, record_label, extra, occurred_at, created_at, updated_at)
	SELECT $1::bigint + g - 1,
	       CASE WHEN g <= $4 AND g %% %[1]d = 0 THEN %[2]d ELSE 2 + (g * 7919) %% %[3]d END,
	       (ARRAY['comment_added', 'comment_deleted', 'comment_viewed', 'label_added'])[1 + (g + g / %[1]d) %% 4],
	       'users', u::text, 'User ' || u,
	       'comments', c::text, 'Comment ' || c,
	       jsonb_build_object('lang', 'en', 'chars', g %% 500),
	       t, t, t
	  FROM generate_series(1, $2::bigint) g,
	       LATERAL (SELECT 1 + (g * 7 + g / %[1]d) %% %[4]d AS u, 1 + (g * 13 + g / %[1]d) %% %[5]d AS c,
	                       $3::timestamptz + g * interval '1 second' AS t) v`,
		feedHotEvery-1, feedHot, feedOthers, fixtureUsers, fixtureComments),
		firstID, total, time.Now().Add(-time.Duration(total)*time.Second), span)
	if err != nil {
		return err
	}
	for _, i := range indexes {
		b.logf("feed: %s", i.def)
		if err := exec(i.def); err != nil {
			return err
		}
	}
	if err := exec(`RESET session_replication_role`); err != nil {
		return err
	}
	b.logf("feed: VACUUM ANALYZE issue_events")
	if err := exec(`VACUUM ANALYZE issue_events`); err != nil {
		return err
	}
	// Start what follows from a clean checkpoint rather than one the load
	// left pending. Only a privileged role may; without it, carry on.
	_, _ = conn.Exec(ctx, `CHECKPOINT`)
	return nil
}

// explainFeed runs q through Feed on a handle of its own that records the
// SQL Feed sends, then runs EXPLAIN ANALYZE on the first statement (the
// events query) with the same arguments, and summarises the plan in one
// line: it shows the plan the library's own query gets, whatever its text.
func explainFeed(ctx context.Context, b *bench, q activity.FeedQuery) (string, error) {
	db, err := openGorm(b.dsn, 1)
	if err != nil {
		return "", err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return "", err
	}
	defer sqlDB.Close()
	type statement struct {
		sql  string
		vars []any
	}
	var (
		mu   sync.Mutex
		sent []statement
	)
	// Feed has gorm build its events query (a dry-run Find: the Query
	// callbacks see it) and runs it on pgx; the resolvers' dry-run Finds
	// follow (sent together in one batch).
	err = db.Callback().Query().After("gorm:query").Register("bench:capture", func(tx *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, statement{tx.Statement.SQL.String(), slices.Clone(tx.Statement.Vars)})
	})
	if err != nil {
		return "", err
	}
	if _, err := b.issues.Feed(ctx, db, q); err != nil {
		return "", fmt.Errorf("feed: explain: %w", err)
	}
	if len(sent) == 0 {
		return "", fmt.Errorf("feed: explain: Feed built no events query through gorm's Query callbacks")
	}
	rows, err := sqlDB.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sent[0].sql, sent[0].vars...)
	if err != nil {
		return "", fmt.Errorf("feed: explain: %w", err)
	}
	defer rows.Close()
	var keep []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", fmt.Errorf("feed: explain: %w", err)
		}
		line = strings.TrimLeft(strings.TrimSpace(line), "-> ")
		for _, k := range []string{"Scan", "Index Cond", "Filter", "Rows Removed", "Execution Time"} {
			if strings.Contains(line, k) {
				keep = append(keep, line)
				break
			}
		}
	}
	return strings.Join(keep, "; "), rows.Err()
}
