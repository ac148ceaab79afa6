package projection_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/projection"
)

// fixture makes projects and issues.
func fixture(t *testing.T, projects, perProject int) []int64 {
	t.Helper()
	var ids []int64
	for p := range projects {
		var pid int64
		if err := testDB.Raw(`INSERT INTO projects (name) VALUES (?) RETURNING id`, "p"+string(rune('a'+p))).Scan(&pid).Error; err != nil {
			t.Fatal(err)
		}
		for range perProject {
			var id int64
			if err := testDB.Raw(`INSERT INTO issues (project_id, title) VALUES (?, 'x') RETURNING id`, pid).Scan(&id).Error; err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

var ana = activity.Ref{Type: "users", ID: "1", Label: "Ana"}

// record records n events from workers goroutines: mostly comments, some
// labels (which the projection ignores), at scattered times.
func record(t *testing.T, ctx context.Context, issueIDs []int64, n, workers int, opts ...activity.Option) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(n)))
			for i := w; i < n; i += workers {
				action := "comment_added"
				if i%5 == 0 {
					action = "label_added"
				}
				at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(1_000_000)) * time.Second)
				o := append([]activity.Option{activity.Actor(ana), activity.OccurredAt(at)}, opts...)
				if _, err := issues.RecordEvent(ctx, testDB, issueIDs[r.IntN(len(issueIDs))], action, o...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// state is the projection's tables.
type state struct {
	last   map[int64]time.Time
	counts map[int64]int64
}

func projected(t *testing.T) state {
	t.Helper()
	s := state{last: map[int64]time.Time{}, counts: map[int64]int64{}}
	var rows []struct {
		ID              int64
		LastCommentedAt *time.Time
	}
	testDB.Raw(`SELECT id, last_commented_at FROM issues WHERE last_commented_at IS NOT NULL`).Scan(&rows)
	for _, r := range rows {
		s.last[r.ID] = r.LastCommentedAt.UTC()
	}
	var cs []struct{ ProjectID, Comments int64 }
	testDB.Raw(`SELECT project_id, comments FROM project_comment_counts WHERE comments <> 0`).Scan(&cs)
	for _, c := range cs {
		s.counts[c.ProjectID] = c.Comments
	}
	return s
}

// freshFold folds the log by hand: what the projection must equal.
func freshFold(t *testing.T) state {
	t.Helper()
	s := state{last: map[int64]time.Time{}, counts: map[int64]int64{}}
	var rows []struct {
		ID   int64
		Last time.Time
	}
	testDB.Raw(`SELECT subject_id AS id, max(occurred_at) AS last FROM issue_events WHERE action = 'comment_added' AND retracted_at IS NULL GROUP BY subject_id`).Scan(&rows)
	for _, r := range rows {
		s.last[r.ID] = r.Last.UTC()
	}
	var cs []struct{ ProjectID, Comments int64 }
	testDB.Raw(`SELECT i.project_id, count(*) AS comments FROM issue_events e JOIN issues i ON i.id = e.subject_id
WHERE e.action = 'comment_added' AND e.retracted_at IS NULL GROUP BY i.project_id`).Scan(&cs)
	for _, c := range cs {
		s.counts[c.ProjectID] = c.Comments
	}
	return s
}

func compare(t *testing.T, got, want state) {
	t.Helper()
	if len(got.last) != len(want.last) || len(got.counts) != len(want.counts) {
		t.Fatalf("projection has %d issues and %d projects, the fresh fold %d and %d", len(got.last), len(got.counts), len(want.last), len(want.counts))
	}
	for id, at := range want.last {
		if !got.last[id].Equal(at) {
			t.Fatalf("issue %d: last_commented_at %v, fresh fold %v", id, got.last[id], at)
		}
	}
	for id, n := range want.counts {
		if got.counts[id] != n {
			t.Fatalf("project %d: %d comments, fresh fold %d", id, got.counts[id], n)
		}
	}
}

// caughtUp waits until the outbox is empty and the projection's current
// generation applied every comment that stands.
func caughtUp(t *testing.T, pr *projection.Projection) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pending, applied, want int64
		testDB.Raw(`SELECT count(*) FROM activity_outbox`).Scan(&pending)
		testDB.Raw(`SELECT count(*) FROM projection_applied a JOIN projections p ON p.name = a.name AND p.generation = a.generation WHERE p.name = 'issue_stats'`).Scan(&applied)
		testDB.Raw(`SELECT count(*) FROM issue_events WHERE action = 'comment_added' AND retracted_at IS NULL`).Scan(&want)
		st, err := pr.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 && applied == want && !st.Rebuilding {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up: %d outbox rows, %d of %d comments applied, %+v", pending, applied, want, st)
		}
		time.Sleep(20 * time.Millisecond) // polling the database for the worker's progress
	}
}

// Rebuilding while 10,000 events are recorded ends with the state a fresh
// fold of the log gives: nothing lost, nothing applied twice.
func TestRebuildDuringLiveRecording(t *testing.T) {
	reset(t)
	ctx := context.Background()
	ids := fixture(t, 5, 20)
	stats, err := projection.New(projection.Config{DB: testDB, Domains: []*activity.Domain{issues}, Projector: IssueStats{Issues: issues},
		BatchSize: 200, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, stats)
	record(t, ctx, ids, 4000, 4) // history, applied live
	rebuilt := make(chan error, 1)
	go func() {
		rebuilt <- stats.Rebuild(ctx)
	}()
	record(t, ctx, ids, 6000, 8) // while it rebuilds
	if err := <-rebuilt; err != nil {
		t.Fatal(err)
	}
	caughtUp(t, stats)
	compare(t, projected(t), freshFold(t))
	st, _ := stats.Status(ctx)
	if st.Generation != 2 || st.Rebuilds != 1 || st.Rebuilding || st.RebuiltAt == nil {
		t.Errorf("status %+v", st)
	}
	t.Logf("status after the rebuild: %+v", st)
}

// Retracting an import hides its events, records the retraction, and the
// projection takes the retracted comments back out (Revert); a rebuild
// afterwards agrees.
func TestRetractionRefolds(t *testing.T) {
	reset(t)
	ctx := context.Background()
	ids := fixture(t, 2, 5)
	stats, err := projection.New(projection.Config{DB: testDB, Domains: []*activity.Domain{issues}, Projector: IssueStats{Issues: issues}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, stats)
	record(t, ctx, ids, 200, 2)
	imp := activity.WithMetadata(ctx, activity.Metadata{CorrelationID: "import-1", Source: "job"})
	record(t, imp, ids[:3], 60, 2)
	caughtUp(t, stats)
	before := projected(t)

	res, err := issues.Retract(ctx, testDB, activity.Retraction{CorrelationID: "import-1", Reason: "the CSV had the wrong project", Action: "import_retracted", Actor: ana})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Retracted) != 60 || len(res.Recorded) == 0 {
		t.Fatalf("retracted %d, recorded %d", len(res.Retracted), len(res.Recorded))
	}
	page, _ := issues.Feed(ctx, testDB, activity.FeedQuery{CorrelationID: "import-1"})
	if len(page.Entries) != 0 {
		t.Errorf("the feed shows %d retracted events", len(page.Entries))
	}
	caughtUp(t, stats)
	after := projected(t)
	compare(t, after, freshFold(t))
	var total, totalBefore int64
	for _, n := range after.counts {
		total += n
	}
	for _, n := range before.counts {
		totalBefore += n
	}
	if totalBefore-total != 48 { // 60 imported, every fifth a label
		t.Errorf("the retraction took %d comments out, want 48", totalBefore-total)
	}
	if err := stats.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	compare(t, projected(t), freshFold(t))
}

// A retried job (the same delivery processed twice) applies its event once.
func TestRetriedDeliveryAppliesOnce(t *testing.T) {
	reset(t)
	ctx := context.Background()
	ids := fixture(t, 1, 1)
	stats, err := projection.New(projection.Config{DB: testDB, Domains: []*activity.Domain{issues}, Projector: IssueStats{Issues: issues}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := issues.RecordEvent(ctx, testDB, ids[0], "comment_added", activity.Actor(ana))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := inboxtest.Process(t, testDB, stats, res.Event); err != nil {
			t.Fatal(err)
		}
	}
	if got := projected(t); len(got.counts) != 1 || got.counts[firstKey(got.counts)] != 1 {
		t.Fatalf("counts after three runs of one delivery: %v", got.counts)
	}
	if stats.Accepts("issue", "label_added") || !stats.Accepts("issue", "comment_added") || !stats.Accepts("issue", "import_retracted") || stats.Accepts("other", "comment_added") {
		t.Error("Accepts")
	}
}

func firstKey(m map[int64]int64) int64 {
	for k := range m {
		return k
	}
	return 0
}
