package inbox_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// backfillChildEnv makes the test binary run one backfill (the ID is the
// variable's value) slowly, for the crash test to SIGKILL.
const backfillChildEnv = "TIDINGS_INBOX_BACKFILLCHILD"

func init() {
	if v := os.Getenv(backfillChildEnv); v != "" {
		os.Exit(backfillChildMain(v))
	}
}

func backfillChildMain(v string) int {
	id, _ := strconv.ParseInt(v, 10, 64)
	db, err := pgtest.Open(dbName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: db, Redis: redisOpt(), Domains: []*activity.Domain{issues},
		Inboxes: []inbox.Inbox{&warehouse{name: "warehouse"}}, BatchSize: 20, Logger: testLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := b.Run(context.Background(), id); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// warehouse is a sink inbox: it copies each event into backfill_effects
// through the ledger (Once), and counts its calls.
type warehouse struct {
	name  string
	calls atomic.Int64
	mu    sync.Mutex
	want  int64
	done  chan struct{}
}

func (w *warehouse) Name() string                { return w.name }
func (w *warehouse) Accepts(string, string) bool { return true }
func (w *warehouse) Process(ctx context.Context, d *inbox.Delivery) error {
	_, err := d.Once(ctx, d.DB, "", func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO backfill_effects (inbox, event_id) VALUES (?, ?)`, w.name, d.Event.ID).Error
	})
	if err == nil && w.calls.Add(1) == w.want && w.done != nil {
		close(w.done)
	}
	return err
}

const backfillSchema = `CREATE TABLE IF NOT EXISTS backfill_effects (inbox text NOT NULL, event_id bigint NOT NULL)`

// A backfill killed mid-way (SIGKILL) and resumed hands every selected
// event to its one inbox once: the checkpoint holds, the batch in flight is
// deduplicated, no other inbox hears of it, and a second backfill of the
// same events (their tasks forgotten by Redis) applies nothing twice.
func TestBackfillKilledAndResumed(t *testing.T) {
	reset(t)
	ctx := context.Background()
	if err := testDB.Exec(backfillSchema + `; TRUNCATE backfill_effects, inbox_backfills`).Error; err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	_, other := newIssue(t)
	const n = 300
	for i := range n {
		record(t, testDB, issueID, "comment_added")
		if i%3 == 0 {
			record(t, testDB, other, "label_added") // not selected
		}
	}
	// These events fanned out before the warehouse existed.
	if err := testDB.Exec(`TRUNCATE activity_outbox, inbox_pending`).Error; err != nil {
		t.Fatal(err)
	}
	sink := &warehouse{name: "warehouse", want: n, done: make(chan struct{})}
	bystander := &warehouse{name: "bystander"}
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{sink, bystander}, DisableRelay: true})
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues},
		Inboxes: []inbox.Inbox{sink, bystander}, BatchSize: 20, Rate: math.Inf(1), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	spec := inbox.BackfillSpec{Inbox: "warehouse", Query: inbox.BackfillQuery{Domain: "issue", Actions: []string{"comment_added"}, Subjects: []string{strconv.FormatInt(issueID, 10)}},
		Rate: 300, By: "console:test"}
	b, err := bf.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != n || b.Status != inbox.BackfillPending {
		t.Fatalf("created %+v", b)
	}

	// A child process runs it at 300 events/s and is killed a third of
	// the way.
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), backfillChildEnv+"="+strconv.FormatInt(b.ID, 10))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := bf.Get(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Done >= n/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child made no progress: %s", cur)
		}
		time.Sleep(5 * time.Millisecond) // polling another process's progress
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killed, _ := bf.Get(ctx, b.ID)
	if killed.Status != inbox.BackfillRunning || killed.Done >= n || killed.Done == 0 {
		t.Fatalf("after the kill: %s", killed)
	}
	t.Logf("killed at %s", killed)

	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done, err := bf.Run(rctx, b.ID)
	if err != nil {
		t.Fatalf("resumed run: %v (%s)", err, done)
	}
	if done.Status != inbox.BackfillDone || done.Done != n || done.LastID != done.MaxID || done.ETA() != 0 || done.Percent() != 100 {
		t.Fatalf("resumed: %s", done)
	}
	if done.Duplicates > 20 {
		t.Errorf("resumed run re-enqueued %d events; only the batch in flight (at most 20) should be", done.Duplicates)
	}
	select {
	case <-sink.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the warehouse processed %d of %d", sink.calls.Load(), n)
	}
	checkEffects := func() {
		t.Helper()
		var rows []struct {
			EventID int64
			N       int
		}
		testDB.Raw(`SELECT event_id, count(*) AS n FROM backfill_effects WHERE inbox = 'warehouse' GROUP BY event_id`).Scan(&rows)
		if len(rows) != n {
			t.Fatalf("%d events reached the warehouse, want %d", len(rows), n)
		}
		for _, r := range rows {
			if r.N != 1 {
				t.Fatalf("event %d applied %d times", r.EventID, r.N)
			}
		}
	}
	checkEffects()
	if c := sink.calls.Load(); c != n {
		t.Errorf("warehouse ran %d times for %d events", c, n)
	}
	if c := bystander.calls.Load(); c != 0 {
		t.Errorf("the bystander inbox got %d backfilled events", c)
	}

	// A second backfill of the same events, once Redis forgot the tasks:
	// the jobs run again, the ledger applies nothing twice.
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	// The jobs say they come from a backfill (no inbox_pending row for the
	// worker to look for when they finish).
	if info, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("warehouse", activity.EventRef{Domain: "issue", ID: done.LastID})); err != nil {
		t.Fatal(err)
	} else if head, _, _ := strings.Cut(string(info.Payload), "\n"); !strings.HasSuffix(head, " backfill") {
		t.Errorf("a backfill job's payload starts %q, want its header to end with the word backfill", head)
	}
	if _, err := insp.DeleteAllCompletedTasks(inbox.DefaultQueue); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	sink.want, sink.done = 2*n, make(chan struct{})
	sink.mu.Unlock()
	b2, err := bf.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := bf.Run(ctx, b2.ID); err != nil || r.Done != n || r.Duplicates != 0 {
		t.Fatalf("second run: %s, %v", r, err)
	}
	select {
	case <-sink.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("second run: the warehouse processed %d of %d", sink.calls.Load(), 2*n)
	}
	checkEffects()
}

func TestBackfillRefusals(t *testing.T) {
	reset(t)
	ctx := context.Background()
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{&warehouse{name: "warehouse"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	if _, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "warehose", Query: inbox.BackfillQuery{Domain: "issue"}}); err == nil || !contains(err.Error(), `did you mean "warehouse"`) {
		t.Errorf("unknown inbox: %v", err)
	}
	if _, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "warehouse", Query: inbox.BackfillQuery{Domain: "isue"}}); err == nil {
		t.Errorf("unknown domain: no error")
	}
	if _, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "warehouse", Query: inbox.BackfillQuery{Domain: "issue", Actions: []string{"coment_added"}}}); err == nil {
		t.Errorf("unknown action: no error")
	}
	if _, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "warehouse", Query: inbox.BackfillQuery{Domain: "issue", Subjects: []string{"x'; DROP TABLE issues; --"}}}); err == nil {
		t.Errorf("bad subject: no error")
	}
	if _, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "warehouse", Rate: -1, Query: inbox.BackfillQuery{Domain: "issue"}}); err == nil {
		t.Errorf("negative rate: no error")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
