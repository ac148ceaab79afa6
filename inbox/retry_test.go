package inbox_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// fast retries: the tests wait on retries, so they should come quickly.
var quickBackoff = func(int) time.Duration { return 10 * time.Millisecond }

func quickWorker(t *testing.T, inboxes ...inbox.Inbox) *inbox.Worker {
	return startWorker(t, inbox.Config{Inboxes: inboxes, DelayedTaskCheckInterval: 50 * time.Millisecond})
}

func openLetters(t *testing.T, w *inbox.Worker, q inbox.DeadLetterQuery) []inbox.DeadLetter {
	t.Helper()
	p, err := w.DeadLetters().List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return p.Letters
}

// subjectOf returns an issue event's subject key as the integer
// RecordEvent wants (Event.SubjectID is text).
func subjectOf(ev activity.Event) int64 {
	n, _ := strconv.ParseInt(ev.SubjectID, 10, 64)
	return n
}

// A permanent error is not retried: one attempt, then a dead letter.
func TestPermanentErrorIsNotRetried(t *testing.T) {
	reset(t)
	c := newCollector("refusing", inbox.Everything)
	c.fn = func(context.Context, *inbox.Delivery) error {
		return inbox.Permanent(errors.New("550 mailbox unknown"))
	}
	w := quickWorker(t, inbox.WithPolicy(c, inbox.Policy{Backoff: quickBackoff}))
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")

	waitFor(t, 10*time.Second, "a dead letter", func() bool { return len(openLetters(t, w, inbox.DeadLetterQuery{})) == 1 })
	waitFor(t, 10*time.Second, "the queue to settle", func() bool { return quiet(t, redis) })
	if n := len(c.attemptTimes()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	d := openLetters(t, w, inbox.DeadLetterQuery{})[0]
	if d.Inbox != "refusing" || d.Event != ev.Ref() || d.Action != "comment_added" || d.Attempts != 1 || !strings.Contains(d.LastError, "550 mailbox unknown") {
		t.Errorf("dead letter %+v", d)
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	info, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("refusing", ev.Ref()))
	if err != nil || info.State != asynq.TaskStateArchived {
		t.Errorf("task %v, %v: want archived", info, err)
	}
}

// A failing job is retried MaxRetry times, then becomes a dead letter that
// can be listed and, once the cause is fixed, re-driven one by one or in
// bulk.
func TestRetriesThenDeadLetterThenRedrive(t *testing.T) {
	reset(t)
	var broken atomic.Bool
	broken.Store(true)
	c := newCollector("flaky", inbox.Everything)
	c.fn = func(context.Context, *inbox.Delivery) error {
		if broken.Load() {
			return errors.New("smtp: connection refused")
		}
		return nil
	}
	w := quickWorker(t, inbox.WithPolicy(c, inbox.Policy{MaxRetry: 2, Backoff: quickBackoff}))
	_, issueID := newIssue(t)
	e1 := record(t, testDB, issueID, "comment_added")
	e2 := record(t, testDB, issueID, "label_added")
	e3 := record(t, testDB, issueID, "comment_deleted")

	waitFor(t, 20*time.Second, "three dead letters", func() bool { return len(openLetters(t, w, inbox.DeadLetterQuery{})) == 3 }, c.changed)
	if n := len(c.attemptTimes()); n != 9 {
		t.Errorf("%d attempts, want 3 events x 3 attempts", n)
	}
	letters := openLetters(t, w, inbox.DeadLetterQuery{Inbox: "flaky"})
	for _, d := range letters {
		if d.Attempts != 3 || !strings.Contains(d.LastError, "connection refused") || d.TaskID != inbox.TaskID("flaky", d.Event) {
			t.Errorf("dead letter %+v: want 3 attempts and the last error", d)
		}
	}
	// Keyset paging over the letters.
	p1, err := w.DeadLetters().List(context.Background(), inbox.DeadLetterQuery{Limit: 2})
	if err != nil || len(p1.Letters) != 2 || p1.Next == "" {
		t.Fatalf("page 1: %+v, %v", p1, err)
	}
	p2, err := w.DeadLetters().List(context.Background(), inbox.DeadLetterQuery{Limit: 2, After: p1.Next})
	if err != nil || len(p2.Letters) != 1 || p2.Next != "" {
		t.Fatalf("page 2: %+v, %v", p2, err)
	}

	broken.Store(false)
	// One by one.
	if err := w.DeadLetters().Redrive(context.Background(), "flaky", e1.Ref()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the re-driven job", func() bool { return c.count(e1.ID) == 1 }, c.changed)
	if err := w.DeadLetters().Redrive(context.Background(), "flaky", activity.EventRef{Domain: "issue", ID: 1 << 40}); !errors.Is(err, inbox.ErrDeadLetterNotFound) {
		t.Errorf("Redrive of an unknown letter: %v", err)
	}
	// In bulk.
	n, err := w.DeadLetters().RedriveAll(context.Background(), inbox.DeadLetterQuery{Inbox: "flaky"})
	if err != nil || n != 2 {
		t.Fatalf("RedriveAll = %d, %v; want 2", n, err)
	}
	waitFor(t, 10*time.Second, "the bulk re-driven jobs", func() bool { return c.count(e2.ID) == 1 && c.count(e3.ID) == 1 }, c.changed)
	if open := openLetters(t, w, inbox.DeadLetterQuery{}); len(open) != 0 {
		t.Errorf("%d letters still open after re-driving", len(open))
	}
	all := openLetters(t, w, inbox.DeadLetterQuery{IncludeRedriven: true})
	for _, d := range all {
		if d.RedrivenAt == nil || d.Redrives != 1 {
			t.Errorf("letter %+v: want re-driven once", d)
		}
	}
}

// A Retry-After (a rate-limited API) sets the delay before the next
// attempt, over the inbox's own backoff.
func TestRetryAfterIsHonoured(t *testing.T) {
	reset(t)
	var calls atomic.Int32
	c := newCollector("ratelimited", inbox.Everything)
	c.fn = func(context.Context, *inbox.Delivery) error {
		if calls.Add(1) == 1 {
			return inbox.RetryAfter(1500*time.Millisecond, errors.New("429 too many requests"))
		}
		return nil
	}
	quickWorker(t, inbox.WithPolicy(c, inbox.Policy{Backoff: quickBackoff}))
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 10*time.Second, "the second attempt", func() bool { return c.count(ev.ID) == 1 }, c.changed)
	at := c.attemptTimes()
	if len(at) != 2 {
		t.Fatalf("%d attempts, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 1500*time.Millisecond || gap > 3*time.Second {
		t.Errorf("second attempt %v after the first; want 1.5s (plus at most the 50ms forwarding interval and scheduling)", gap)
	}
}

// A panic is recovered, counted and retried.
func TestPanicIsRecoveredAndRetried(t *testing.T) {
	reset(t)
	var calls atomic.Int32
	c := newCollector("panicky", inbox.Everything)
	c.fn = func(context.Context, *inbox.Delivery) error {
		if calls.Add(1) == 1 {
			panic("nil map")
		}
		return nil
	}
	w := quickWorker(t, inbox.WithPolicy(c, inbox.Policy{Backoff: quickBackoff}))
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 10*time.Second, "the retry after the panic", func() bool {
		return c.count(ev.ID) == 1 && w.Metrics().Of("panicky").Succeeded == 1
	}, c.changed)
	m := w.Metrics().Of("panicky")
	if m.Attempts != 2 || m.Panics != 1 || m.Retried != 1 || m.Succeeded != 1 {
		t.Errorf("metrics %+v", m)
	}
}

// An event recorded while an inbox handles an event carries its causation
// and correlation; a loop is stopped at the domain's MaxDepth, and the
// stopped job is a dead letter that says why.
func TestCausationAndDepth(t *testing.T) {
	reset(t)
	ctx := context.Background()
	echo := newCollector("echo", inbox.On("issue", "comment_added"))
	echo.fn = func(ctx context.Context, d *inbox.Delivery) error {
		_, err := issues.RecordEvent(ctx, d.DB, subjectOf(d.Event), "label_added", activity.Actor(activity.System("workflow")))
		return err
	}
	looper := newCollector("looper", inbox.On("issue", "looped"))
	looper.fn = func(ctx context.Context, d *inbox.Delivery) error {
		_, err := issues.RecordEvent(ctx, d.DB, subjectOf(d.Event), "looped", activity.Actor(activity.System("workflow")))
		return err
	}
	w := quickWorker(t, echo, inbox.WithPolicy(looper, inbox.Policy{Backoff: quickBackoff}))
	_, issueID := newIssue(t)
	reqCtx := activity.WithMetadata(ctx, activity.Metadata{RequestID: "req-42", Source: "web"})
	res, err := issues.RecordEvent(reqCtx, testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	cause := res.Event
	waitFor(t, 10*time.Second, "the echo", func() bool { return echo.count(cause.ID) == 1 }, echo.changed)
	page, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: issueID, Actions: []string{"label_added"}})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("label events: %+v, %v", page, err)
	}
	got := page.Entries[0].Event
	if c, ok := got.Cause(); !ok || c != cause.Ref() || got.Depth != 1 || got.CorrelationID == nil || *got.CorrelationID != "req-42" || got.Source == nil || *got.Source != "job" {
		t.Errorf("echoed event: cause %v, depth %d, correlation %v, source %v; want caused by %v, depth 1, correlation req-42, source job",
			c, got.Depth, got.CorrelationID, got.Source, cause.Ref())
	}

	// The loop: each looped event records another.
	record(t, testDB, issueID, "looped")
	waitFor(t, 20*time.Second, "the loop to be stopped", func() bool {
		return len(openLetters(t, w, inbox.DeadLetterQuery{Inbox: "looper"})) == 1
	}, looper.changed)
	var n int64
	testDB.Raw(`SELECT count(*) FROM issue_events WHERE subject_id = ? AND action = 'looped'`, issueID).Scan(&n)
	if n != int64(activity.DefaultMaxDepth+1) {
		t.Errorf("%d looped events, want %d (depths 0 to %d)", n, activity.DefaultMaxDepth+1, activity.DefaultMaxDepth)
	}
	d := openLetters(t, w, inbox.DeadLetterQuery{Inbox: "looper"})[0]
	if d.Attempts != 1 || !strings.Contains(d.LastError, "causation depth") {
		t.Errorf("dead letter %+v: want one attempt (permanent) and the depth error", d)
	}
}

// Shutdown lets a running job finish within ShutdownTimeout; a job still
// running after it is handed back and run by the next worker.
func TestShutdownHandsBackUnfinishedJobs(t *testing.T) {
	reset(t)
	started := make(chan struct{}, 1)
	slow := newCollector("slow", inbox.Everything)
	slow.fn = func(ctx context.Context, d *inbox.Delivery) error {
		started <- struct{}{}
		<-ctx.Done() // runs until the worker gives up on it
		return ctx.Err()
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{slow},
		ShutdownTimeout: 200 * time.Millisecond, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	w.Shutdown()

	// The next worker gets the job back and finishes it.
	done := newCollector("slow", inbox.Everything)
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{done}})
	waitFor(t, 10*time.Second, "the handed-back job", func() bool { return done.count(ev.ID) == 1 }, done.changed)
}

// A job asynq archived on its own (here, by hand; in life, a last attempt
// lost with its worker) is imported into the dead letters.
func TestImportArchived(t *testing.T) {
	reset(t)
	c := newCollector("archived", inbox.Everything)
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	r, err := inbox.NewRelay(inbox.RelayConfig{DB: testDB, Redis: redis, Inboxes: []inbox.Inbox{c}, DisableListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	if err := insp.ArchiveTask(inbox.DefaultQueue, inbox.TaskID("archived", ev.Ref())); err != nil {
		t.Fatal(err)
	}
	dl, err := inbox.NewDeadLetters(inbox.DeadLettersConfig{DB: testDB, Redis: redis, Inboxes: []inbox.Inbox{c}})
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	for round, want := range []int{1, 0} { // the second import finds it recorded
		n, err := dl.ImportArchived(context.Background())
		if err != nil || n != want {
			t.Fatalf("import %d: %d, %v; want %d", round, n, err, want)
		}
	}
	page, err := dl.List(context.Background(), inbox.DeadLetterQuery{})
	if err != nil || len(page.Letters) != 1 || page.Letters[0].Event != ev.Ref() || page.Letters[0].Inbox != "archived" {
		t.Fatalf("letters %+v, %v", page.Letters, err)
	}
}

// Shutdown waits for a running job that finishes within ShutdownTimeout.
func TestShutdownWaitsForRunningJobs(t *testing.T) {
	reset(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	var finished atomic.Bool
	slow := newCollector("finishing", inbox.Everything)
	slow.fn = func(ctx context.Context, d *inbox.Delivery) error {
		started <- struct{}{}
		<-release
		finished.Store(true)
		return nil
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{slow},
		ShutdownTimeout: 10 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	stopped := make(chan struct{})
	go func() {
		w.Shutdown()
		close(stopped)
	}()
	close(release)
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if !finished.Load() {
		t.Fatal("Shutdown returned before the running job finished")
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	info, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("finishing", ev.Ref()))
	if err != nil || info.State != asynq.TaskStateCompleted {
		t.Errorf("task %v, %v: want completed, not handed back", info, err)
	}
}
