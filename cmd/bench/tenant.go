package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// tenantGroup measures what tenancy costs: recording into and reading
// from a tenanted domain (10 tenants, one holding half the events and
// taking half the writes) against the same untenanted domain, both tables
// of the same size, in the same run.
func tenantGroup() group {
	return group{
		name:  "tenant",
		about: "recording and feed pages of a tenanted domain (10 tenants, one hot) against the same untenanted domain",
		run:   runTenant,
	}
}

const (
	tenantCount        = 10
	tenantEvents       = 1_000_000 // per table, at -scale 1
	tenantHot          = 1         // holds every other event and takes every other write
	tenantCold         = 5
	tenantFeedSubject  = 7
	tenantFeedPageSize = 20
)

// tenantOf is the tenant of the i-th recording of worker w: the hot one
// every other time, else one of the other nine.
func tenantOf(w, i int) int64 {
	if i%2 == 0 {
		return tenantHot
	}
	return int64(2 + (w+i)%(tenantCount-1))
}

func tenantDomains() (plain, orgs *activity.Domain) {
	cfg := func(name string, tenant activity.KeyType) activity.DomainConfig {
		return activity.DomainConfig{
			Name: name, Subject: activity.Subject{Table: "issues"}, Tenant: tenant,
			Actions: []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"},
			Resolvers: map[string]activity.Resolver{
				"users":    activity.ModelResolver[User](),
				"comments": activity.ModelResolver[Comment](),
			},
		}
	}
	return activity.MustDomain(cfg("plain_issue", "")), activity.MustDomain(cfg("org_issue", activity.KeyBigint))
}

func runTenant(ctx context.Context, b *bench) ([]figure, error) {
	plain, orgs := tenantDomains()
	n := b.size(tenantEvents, 20_000)
	for _, d := range []*activity.Domain{plain, orgs} {
		up, down := activity.MigrationSQL(d)
		tenant := ""
		if d.Tenanted() {
			// Tenant 1 holds every other event, tenants 2-10 share the rest.
			tenant = ", CASE WHEN g % 2 = 0 THEN 1 ELSE 2 + (g / 2) % 9 END"
		}
		cols := "subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at"
		if tenant != "" {
			cols += ", tenant_id"
		}
		fill := fmt.Sprintf(`INSERT INTO %s (%s)
SELECT CASE WHEN g %% 10 = 0 THEN %d ELSE 1 + g %% %d END, 'comment_added', 'users', (1 + g %% %d)::text, 'User', 'comments', (1 + g %% %d)::text, 'Comment',
       '{"chars": 120}', now() - (%d - g) * interval '1 second', now(), now()%s
FROM generate_series(1, %d) g`, d.Table(), cols, tenantFeedSubject, fixtureIssues, fixtureUsers, fixtureComments, n, tenant, n)
		for _, stmt := range []string{down, up, fill, "VACUUM ANALYZE " + d.Table()} {
			if err := b.db.WithContext(ctx).Exec(stmt).Error; err != nil {
				return nil, fmt.Errorf("tenant: %.60q: %w", stmt, err)
			}
		}
	}
	// The fill's dirty pages are written now, not during the first rounds.
	if err := b.db.WithContext(ctx).Exec("CHECKPOINT").Error; err != nil {
		return nil, fmt.Errorf("tenant: checkpoint: %w", err)
	}
	b.logf("tenant: %s events in each table", thousands(int64(n)))

	// Recording, at concurrency 32.
	const workers = 32
	record := func(d *activity.Domain) func(context.Context, int, int) error {
		return func(ctx context.Context, w, i int) error {
			c := recordCall(w, i)
			if d.Tenanted() {
				ctx = activity.WithTenant(ctx, tenantOf(w, i))
			}
			_, err := d.RecordEvent(ctx, b.db, c.Subject, c.Action, c.options()...)
			return err
		}
	}
	warm := b.duration(2*time.Second, 300*time.Millisecond)
	for _, d := range []*activity.Domain{orgs, plain} {
		if _, err := throughput(ctx, workers, warm, record(d)); err != nil {
			return nil, fmt.Errorf("tenant: warm up: %w", err)
		}
	}
	d := b.duration(roundLength, 300*time.Millisecond)
	b.logf("tenant: recording, %d workers, %d rounds of %s per side", workers, b.rounds, d)
	tRec, pRec, err := alternate(b.rounds,
		func() (float64, error) { return throughput(ctx, workers, d, record(orgs)) },
		func() (float64, error) { return throughput(ctx, workers, d, record(plain)) })
	if err != nil {
		return nil, fmt.Errorf("tenant: record: %w", err)
	}

	// Feed pages, interleaved: a hot subject's first page in the hot
	// tenant, and a cold tenant's whole-domain first page, against the
	// same pages of the untenanted table.
	hot, cold := activity.WithTenant(ctx, tenantHot), activity.WithTenant(ctx, tenantCold)
	subjectQ := activity.FeedQuery{Subject: tenantFeedSubject, Limit: tenantFeedPageSize}
	domainQ := activity.FeedQuery{Limit: tenantFeedPageSize}
	pages := []func() error{
		func() error { _, err := orgs.Feed(hot, b.db, subjectQ); return err },
		func() error { _, err := plain.Feed(ctx, b.db, subjectQ); return err },
		func() error { _, err := orgs.Feed(cold, b.db, domainQ); return err },
		func() error { _, err := plain.Feed(ctx, b.db, domainQ); return err },
	}
	runs := b.size(1000, 100)
	for i := range max(50, runs/10) {
		for _, page := range pages {
			if err := page(); err != nil {
				return nil, fmt.Errorf("tenant: feed warm up %d: %w", i, err)
			}
		}
	}
	b.logf("tenant: %d runs of each of 4 feed pages, interleaved", runs)
	took := make([][]time.Duration, len(pages))
	for r := range runs {
		for k := range pages {
			k = (k + r) % len(pages) // rotate which page goes first
			t := time.Now()
			if err := pages[k](); err != nil {
				return nil, fmt.Errorf("tenant: feed: %w", err)
			}
			took[k] = append(took[k], time.Since(t))
		}
	}
	maxRatio := 1 / 0.9
	figs := []figure{
		{Name: fmt.Sprintf("record, tenanted (10 tenants, one hot) vs untenanted, concurrency %d", workers), Unit: "ev/s", Ours: tRec, Baseline: pRec, Target: target{MinRatio: 0.9}},
		{Name: "feed first page of a subject in the hot tenant vs untenanted, p50", Unit: "ms", Ours: ms(percentile(took[0], 50)), Baseline: ms(percentile(took[1], 50)), Target: target{MaxRatio: maxRatio}},
		{Name: "feed first page of a subject in the hot tenant vs untenanted, p99", Unit: "ms", Ours: ms(percentile(took[0], 99)), Baseline: ms(percentile(took[1], 99))},
		{Name: "feed first page of a cold tenant's domain vs untenanted domain, p50", Unit: "ms", Ours: ms(percentile(took[2], 50)), Baseline: ms(percentile(took[3], 50)), Target: target{MaxRatio: maxRatio}},
		{Name: "feed first page of a cold tenant's domain vs untenanted domain, p99", Unit: "ms", Ours: ms(percentile(took[2], 99)), Baseline: ms(percentile(took[3], 99))},
	}
	b.note("tenant: two tables of %s events each over the same %d issues, one untenanted (plain_issue), one tenanted by a bigint (org_issue: tenant %d holds half the events, tenants 2-10 the rest; indexes lead with tenant_id, the two feed indexes put it after the subject or actor). Recording: RecordEvent at concurrency %d, the tenant from the context (WithTenant), the hot tenant every other call; median of %d alternating rounds of %s. Feeds: Feed(FeedQuery{Subject: %d, Limit: %d}) in the hot tenant, and a whole-domain first page in tenant %d, each against the same query on the untenanted table, actors and records resolved; %d runs of each, interleaved. The target for both ratios is 0.9x (feeds: at most 1/0.9 of the untenanted time).",
		thousands(int64(n)), fixtureIssues, tenantHot, workers, b.rounds, d, tenantFeedSubject, tenantFeedPageSize, tenantCold, runs)
	return figs, nil
}
