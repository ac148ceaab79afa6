package inbox_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// crashWorkerEnv makes the test binary run crashWorkerMain instead of the
// tests: a real worker process the crash test can SIGKILL.
const crashWorkerEnv = "TIDINGS_INBOX_CRASHWORKER"

// recipientsFromExtra notifies the people listed in the event's extra
// {"to": [...]}.
func recipientsFromExtra(_ context.Context, _ *gorm.DB, ev activity.Event) ([]string, error) {
	var x struct {
		To []string `json:"to"`
	}
	if err := ev.DecodeExtra(&x); err != nil {
		return nil, inbox.Permanent(err)
	}
	return x.To, nil
}

// crashWorkerMain runs a worker with a notify inbox on the test databases
// and prints "ok <event id>" after each delivery, until it is killed (or
// stopped with SIGTERM).
func crashWorkerMain() int {
	db, err := pgtest.Open(dbName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, err := notify.New(notify.Config{Name: "crash-notify", Recipients: recipientsFromExtra})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	lines := make(chan string, 1024)
	go func() {
		for l := range lines {
			out.WriteString(l)
			if len(lines) == 0 {
				out.Flush()
			}
		}
	}()
	progress := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			err := next(ctx, d)
			if err == nil {
				lines <- fmt.Sprintf("ok %d\n", d.Event.ID)
			}
			return err
		}
	}
	w, err := inbox.NewWorker(inbox.Config{
		DB: db, Redis: redisOpt(), Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{n},
		Middleware: []inbox.Middleware{progress}, Concurrency: 8, Logger: testLogger(),
		Relay: inbox.RelayConfig{BatchSize: 25, PollInterval: 50 * time.Millisecond},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := w.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lines <- "started\n"
	<-ctx.Done()
	w.Shutdown()
	return 0
}

// A worker process killed with SIGKILL in the middle of its work, then
// restarted: every notification arrives, none twice.
func TestSIGKILLedWorkerLosesNothingAndRepeatsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	reset(t)
	_, issueID := newIssue(t)
	const events = 1000
	want := map[string]bool{}
	for k := range events {
		// The actor, user 1, is listed too: the inbox must drop them.
		to := []string{fmt.Sprint(100 + k%7), fmt.Sprint(200 + k%5), "1"}
		ev := record(t, testDB, issueID, "comment_added", activity.Extra(map[string]any{"to": to}))
		want[fmt.Sprintf("%s/%d", to[0], ev.ID)] = true
		want[fmt.Sprintf("%s/%d", to[1], ev.ID)] = true
	}

	// First worker: kill it once it has done a fifth of the work.
	first := startCrashWorker(t)
	seen := 0
	for line := range first.lines {
		if strings.HasPrefix(line, "ok ") {
			seen++
			if seen == events/5 {
				break
			}
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	done := countNotifications(t)
	if done >= int64(len(want)) {
		t.Fatalf("the worker finished (%d notifications) before it was killed; the test proves nothing", done)
	}
	t.Logf("killed after %d deliveries reported; %d of %d notifications, %d outbox rows left", seen, done, len(want), outboxLen(t))

	// asynq re-runs the jobs a dead worker held once their lease (30s) has
	// been expired for 30s more. Backdate the leases to stand for that
	// minute passing; the next worker's recoverer then retries them.
	fastForwardLeases(t, inbox.DefaultQueue)

	second := startCrashWorker(t)
	go func() {
		for range second.lines { // keep the pipe drained
		}
	}()
	waitFor(t, 60*time.Second, "every notification after the restart", func() bool {
		return countNotifications(t) >= int64(len(want)) && quiet(t, redisOpt())
	})
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	_ = second.cmd.Wait()

	var got []struct {
		Recipient string
		EventID   int64
	}
	if err := testDB.Raw(`SELECT recipient, event_id FROM notifications`).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	have := map[string]int{}
	for _, g := range got {
		have[fmt.Sprintf("%s/%d", g.Recipient, g.EventID)]++
	}
	for k, n := range have {
		if n > 1 {
			t.Errorf("notification %s exists %d times", k, n)
		}
		if !want[k] {
			t.Errorf("unexpected notification %s (the actor is never notified)", k)
		}
	}
	for k := range want {
		if have[k] == 0 {
			t.Errorf("notification %s is missing", k)
		}
	}
	var ledger int64
	testDB.Raw(`SELECT count(*) FROM inbox_deliveries WHERE inbox = 'crash-notify'`).Scan(&ledger)
	if ledger != int64(len(want)) {
		t.Errorf("ledger has %d rows, want %d", ledger, len(want))
	}
}

type crashWorker struct {
	cmd   *exec.Cmd
	lines chan string
}

// startCrashWorker starts the test binary as a worker and waits until it
// says it started.
func startCrashWorker(t *testing.T) *crashWorker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashWorkerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	cw := &crashWorker{cmd: cmd, lines: make(chan string, 4096)}
	go func() {
		defer close(cw.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			cw.lines <- sc.Text()
		}
	}()
	select {
	case l := <-cw.lines:
		if l != "started" {
			t.Fatalf("crash worker said %q first", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("crash worker did not start within 30s")
	}
	return cw
}

func redisOpt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
}

func countNotifications(t testing.TB) int64 {
	var n int64
	if err := testDB.Raw(`SELECT count(*) FROM notifications`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// fastForwardLeases backdates the leases of queue's active jobs by a
// minute and a half.
func fastForwardLeases(t *testing.T, queue string) {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: redistest.Addr(), DB: redisDB})
	defer c.Close()
	key := "asynq:{" + queue + "}:lease"
	ids, err := c.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	past := float64(time.Now().Add(-90 * time.Second).Unix())
	for _, id := range ids {
		if err := c.ZAdd(ctx, key, goredis.Z{Score: past, Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d jobs were active in the killed worker", len(ids))
}
