package slack_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// A clean stop of a worker whose Slack job waits for its thread's turn
// (another post holds the thread) logs no WARN or ERROR line: the job
// gives up its wait at once (inbox.Stopping) and goes back to the queue,
// instead of holding the shutdown until ShutdownTimeout, when asynq
// abandons it with "Quitting worker". Nothing is posted before the stop;
// after a restart the post goes out once, on its first counted attempt.
// The turn is held by an earlier event (the post polls for it) or a
// later one (the post waits for the key's lock in PostgreSQL).
func TestCleanStopHandsBackWaitingPost(t *testing.T) {
	for _, c := range []struct {
		name   string
		holder int64
	}{{"earlier", 0}, {"later", 1<<31 - 1}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := redistest.Flush(ctx, redisDB); err != nil {
				t.Fatal(err)
			}
			srv := slacktest.Start(t, slacktest.Config{Token: token})
			name := unique("slack-stop")
			var issueID int64
			if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&issueID).Error; err != nil {
				t.Fatal(err)
			}
			// Another post holds the issue's thread until released.
			key := slackinbox.ThreadKey{Domain: "issue", SubjectID: fmt.Sprint(issueID), Route: "#issues"}
			held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				done <- slackinbox.NewGormThreads(testDB).LockThread(ctx, key, c.holder, time.Minute, func(context.Context, slackinbox.ThreadStore) error {
					close(held)
					<-release
					return nil
				})
			}()
			select {
			case <-held:
			case <-time.After(wait):
				t.Fatal("the turn was not taken")
			}
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()

			// The first worker: its post waits for the turn far longer
			// (ThreadWait) than the shutdown lets it (ShutdownTimeout).
			logs := &levelLog{}
			started := make(chan int, 4)
			w1 := slackWorker(t, srv, name, slog.New(logs), started)
			if err := w1.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"})); err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
			case <-time.After(wait):
				t.Fatal("the post's job did not start")
			}
			w1.Shutdown()
			if bad := logs.warnings(); bad != "" {
				t.Errorf("a clean stop with a Slack job waiting for its thread logged WARN or ERROR lines:\n%s", bad)
			}
			if n := srv.Calls(slacktest.MethodPostMessage); n != 0 {
				t.Fatalf("%d posts while the thread was held", n)
			}

			// The turn is free; a new worker (a restart) posts it, once.
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			started2 := make(chan int, 4)
			w2 := slackWorker(t, srv, name, testLogger(), started2)
			if err := w2.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer w2.Shutdown()
			if _, err := srv.WaitFor(1, wait); err != nil {
				t.Fatalf("the handed-back post after the restart: %v", err)
			}
			if attempt := <-started2; attempt != 1 {
				t.Errorf("the restarted job ran as attempt %d; want 1 (a stop spends no attempt)", attempt)
			}
			w2.Shutdown()
			if n := srv.Calls(slacktest.MethodPostMessage); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
		})
	}
}

// slackWorker is a worker (one process) running a Slack inbox named name
// on GormThreads, with a short ShutdownTimeout; started gets the attempt
// of each job of the inbox as it starts.
func slackWorker(t *testing.T, srv *slacktest.Server, name string, log *slog.Logger, started chan<- int) *inbox.Worker {
	t.Helper()
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token: token, APIURL: srv.APIURL(), Threads: slackinbox.NewGormThreads(testDB), Logger: log,
		ThreadWait: time.Minute,
		Router:     router(t, slackinbox.RouterConfig{Rules: []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: name, Publisher: p})
	if err != nil {
		t.Fatal(err)
	}
	w, err := inbox.NewWorker(inbox.Config{
		DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
		DelayedTaskCheckInterval: 50 * time.Millisecond, ShutdownTimeout: 2 * time.Second, Logger: log,
		Middleware: []inbox.Middleware{func(next inbox.ProcessFunc) inbox.ProcessFunc {
			return func(ctx context.Context, d *inbox.Delivery) error {
				select {
				case started <- d.Attempt:
				default:
				}
				return next(ctx, d)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

// levelLog is a slog.Handler keeping the lines at WARN and above.
type levelLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *levelLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += fmt.Sprintf(" %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}
func (l *levelLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelLog) WithGroup(string) slog.Handler      { return l }
func (l *levelLog) warnings() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
