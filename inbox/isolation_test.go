package inbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// Two apps share one Redis database (and the default queue, and an inbox
// name): with Config.App each worker processes only its own app's jobs,
// with no delay (nothing bounces between them).
func TestTwoAppsShareOneRedisDB(t *testing.T) {
	reset(t)
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	db2, err := pgtest.Create(ctx, "tidings_test_inbox_app2", appSchema, up)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db2.DB(); err == nil {
			s.Close()
		}
	})
	type app struct {
		name string
		db   *gorm.DB
		c    *collector
		bad  chan string
	}
	apps := []*app{{name: "alpha", db: testDB}, {name: "beta", db: db2}}
	for _, a := range apps {
		a.c = newCollector("notes", inbox.Everything)
		a.bad = make(chan string, 100)
		name := a.name
		a.c.fn = func(_ context.Context, d *inbox.Delivery) error {
			var x struct{ App string }
			if err := d.Event.DecodeExtra(&x); err != nil || x.App != name {
				a.bad <- x.App
			}
			return nil
		}
		startWorker(t, inbox.Config{App: a.name, DB: a.db, Inboxes: []inbox.Inbox{a.c},
			Relay: inbox.RelayConfig{PollInterval: 20 * time.Millisecond}})
	}
	const events = 50
	var wg sync.WaitGroup
	start := time.Now()
	for _, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var user, issue int64
			a.db.Raw(`INSERT INTO users (name) VALUES ('Ana') RETURNING id`).Scan(&user)
			a.db.Raw(`INSERT INTO issues (title, author_id) VALUES ('x', ?) RETURNING id`, user).Scan(&issue)
			for range events {
				if _, err := issues.RecordEvent(ctx, a.db, issue, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1"}),
					activity.Extra(map[string]any{"app": a.name})); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, a := range apps {
		waitFor(t, 10*time.Second, a.name+"'s deliveries", func() bool { ev, _ := a.c.total(); return ev == events }, a.c.changed)
	}
	took := time.Since(start)
	for _, a := range apps {
		close(a.bad)
		for other := range a.bad {
			t.Errorf("app %s's worker processed a job of app %q", a.name, other)
		}
		if ev, n := a.c.total(); ev != events || n != events {
			t.Errorf("app %s: %d events, %d deliveries; want %d once each", a.name, ev, n, events)
		}
	}
	if took > 5*time.Second {
		t.Errorf("both apps' deliveries took %v (jobs bouncing between the apps' workers?)", took)
	}
	// The queues are the apps' own.
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	qs, err := insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(qs, ",") != "alpha.tidings,beta.tidings" && strings.Join(qs, ",") != "beta.tidings,alpha.tidings" {
		t.Errorf("queues %v, want alpha.tidings and beta.tidings", qs)
	}
}

// A job the worker cannot handle (another app's inbox in a shared queue)
// is said loudly, once per kind, however often it is retried.
func TestUnknownJobIsReportedOnce(t *testing.T) {
	reset(t)
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := newCollector("known", inbox.Everything)
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{c}, Logger: log, DelayedTaskCheckInterval: 20 * time.Millisecond,
		Relay: inbox.RelayConfig{DisableListen: true}})
	cli := asynq.NewClient(redis)
	defer cli.Close()
	for i := range 3 {
		task := asynq.NewTask(inbox.TaskType("ghost"), []byte("issue 1 comment_added"))
		if _, err := cli.Enqueue(task, asynq.Queue(inbox.DefaultQueue), asynq.MaxRetry(5), asynq.TaskID("ghost-"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	waitFor(t, 10*time.Second, "the ghost jobs to be tried", func() bool {
		q, err := insp.GetQueueInfo(inbox.DefaultQueue)
		return err == nil && q.Retry == 3
	})
	if n := strings.Count(buf.String(), "cannot handle"); n != 1 {
		t.Errorf("%d log lines about the unknown job, want exactly 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "tidings:ghost") || !strings.Contains(buf.String(), "Config.App") {
		t.Errorf("the log line should name the task type and say to set Config.App:\n%s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
