package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// The cycles group's worker is a process of its own (the bench binary run
// again with these variables set), so its connections, goroutines and
// memory are the worker's alone: tidings.Client's worker side, as an app's
// worker process runs it (Start, an in-app inbox and an inbox of the
// app's own), against the private PostgreSQL and Redis.
const (
	cyclesChildEnv = "TIDINGS_BENCH_CYCLES_CHILD" // the worker's DSN
	cyclesRedisEnv = "TIDINGS_BENCH_CYCLES_REDIS" // its Redis address
)

// Names in pg_stat_activity: the worker's pool, the bench's recorders.
const (
	cyclesWorkerApp = "bench cycles worker"
	cyclesLoadApp   = "bench cycles load"
	cyclesPool      = 10 // the worker's gorm pool, as an app sizes one
)

// cyclesReceivedTable holds each event the worker's own inbox took, with
// how many times: the inbox writes through the deliveries ledger (Once),
// the way an app's inbox makes its effect once only, so a count above 1
// is a delivery that happened twice.
const cyclesReceivedTable = "bench_cycles_received"

// cyclesInbox is the app's own inbox of the worker: it records each
// comment_added event in cyclesReceivedTable through the ledger.
type cyclesInbox struct{}

func (cyclesInbox) Name() string                  { return "bench-cycles" }
func (cyclesInbox) Accepts(_, action string) bool { return action == "comment_added" }
func (cyclesInbox) Process(ctx context.Context, d *inbox.Delivery) error {
	_, err := d.Ledger.Once(ctx, d.DB, inbox.Key{Inbox: d.Inbox, Event: d.Event.Ref()}, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO `+cyclesReceivedTable+` (event_id, n) VALUES (?, 1)
ON CONFLICT (event_id) DO UPDATE SET n = `+cyclesReceivedTable+`.n + 1`, d.Event.ID).Error
	})
	return err
}

// workerStats is what the worker says of itself when asked.
type workerStats struct {
	Goroutines int    `json:"goroutines"` // steadyGoroutines
	HeapBytes  uint64 `json:"heap_bytes"` // live heap after a collection
	RSSKB      int64  `json:"rss_kb"`
}

// cyclesChildMain runs the worker when the environment asks for it and
// reports true; otherwise it reports false at once. main and TestMain call
// it first. The worker prints "ready" once started, answers each "stats"
// line on its stdin with a workerStats line, and stops (Client.Stop) when
// its stdin ends.
func cyclesChildMain() bool {
	dsn := os.Getenv(cyclesChildEnv)
	if dsn == "" {
		return false
	}
	if os.Getenv(cyclesHeapDirEnv) != "" {
		runtime.MemProfileRate = 4096 // finer than the default 512 KiB: profiles of two cycles compare closely
	}
	if err := cyclesChild(context.Background(), dsn, os.Getenv(cyclesRedisEnv), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cycles worker:", err)
		os.Exit(1)
	}
	return true
}

func cyclesChild(ctx context.Context, dsn, redisAddr string, in io.Reader, out io.Writer) error {
	db, err := openGorm(withSetting(dsn, "application_name", "'"+cyclesWorkerApp+"'"), cyclesPool)
	if err != nil {
		return err
	}
	c, err := tidings.NewClient(tidings.Config{
		DB: db, Redis: redisAddr, Domains: []*activity.Domain{newIssueDomain()},
		InApp: &tidings.InApp{RecipientsFunc: func(context.Context, *gorm.DB, activity.Event) ([]any, error) {
			return []any{int64(7)}, nil
		}},
		Inboxes:       []inbox.Inbox{cyclesInbox{}},
		Logger:        quietLogger(),
		IgnoreSignals: true,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		if path, ok := strings.CutPrefix(sc.Text(), "heapprofile "); ok {
			if err := writeHeapProfile(path); err != nil {
				return err
			}
			continue
		}
		if sc.Text() != "stats" {
			continue
		}
		runtime.GC()
		m := []metrics.Sample{{Name: heapLive}}
		metrics.Read(m)
		if err := enc.Encode(workerStats{Goroutines: steadyGoroutines(), HeapBytes: m[0].Value.Uint64(), RSSKB: rssKB("VmRSS")}); err != nil {
			return err
		}
	}
	stop, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return c.Stop(stop)
}

// steadyGoroutines is the fewest goroutines of 10 counts 10 ms apart: the
// ones that stay. A goroutine leaked stays in every count; the worker's
// passing ones (a sweep's lookups, asynq's poll of its queues) come and
// go, and made single counts of a quiet worker vary from 28 to 45.
func steadyGoroutines() int {
	n := runtime.NumGoroutine()
	for range 9 {
		time.Sleep(10 * time.Millisecond) // spacing the counts, not waiting for anything
		n = min(n, runtime.NumGoroutine())
	}
	return n
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The goroutines beside it, as text (goroutines-NN.txt).
	g, err := os.Create(strings.NewReplacer("heap-", "goroutines-", ".pprof", ".txt").Replace(path))
	if err != nil {
		return err
	}
	if err := pprof.Lookup("goroutine").WriteTo(g, 1); err != nil {
		g.Close()
		return err
	}
	return g.Close()
}

// cyclesWorker is the parent's handle on the worker process.
type cyclesWorker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr strings.Builder
}

// startCyclesWorker runs the bench binary as the worker and waits for it
// to say it started.
func startCyclesWorker(ctx context.Context, dsn, redisAddr string) (*cyclesWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &cyclesWorker{}
	w.cmd = exec.CommandContext(ctx, exe, "-test.run=^$") // a test binary runs no tests; the bench ignores it (see cyclesChildMain)
	w.cmd.Env = append(os.Environ(), cyclesChildEnv+"="+dsn, cyclesRedisEnv+"="+redisAddr)
	w.cmd.Stderr = &w.stderr
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	w.lines = bufio.NewScanner(stdout)
	if !w.lines.Scan() || w.lines.Text() != "ready" {
		_ = w.stop()
		return nil, fmt.Errorf("cycles: the worker did not start: %q %s", w.lines.Text(), w.stderr.String())
	}
	return w, nil
}

func (w *cyclesWorker) pid() int { return w.cmd.Process.Pid }

// stats asks the worker for its goroutines, heap and RSS.
func (w *cyclesWorker) stats() (workerStats, error) {
	var s workerStats
	if _, err := io.WriteString(w.stdin, "stats\n"); err != nil {
		return s, fmt.Errorf("cycles: the worker: %w: %s", err, w.stderr.String())
	}
	if !w.lines.Scan() {
		return s, fmt.Errorf("cycles: the worker said nothing: %v %s", w.lines.Err(), w.stderr.String())
	}
	return s, json.Unmarshal(w.lines.Bytes(), &s)
}

// heapProfile has the worker write a heap profile to path (as of the
// last collection: stats runs one).
func (w *cyclesWorker) heapProfile(path string) error {
	_, err := io.WriteString(w.stdin, "heapprofile "+path+"\n")
	return err
}

// stop closes the worker's stdin (it stops gracefully) and waits for it.
func (w *cyclesWorker) stop() error {
	_ = w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		return fmt.Errorf("cycles: the worker: %w: %s", err, w.stderr.String())
	}
	return nil
}
