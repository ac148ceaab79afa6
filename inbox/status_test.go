package inbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// sinkCollector is a collector delivering to an outside service.
type sinkCollector struct{ *collector }

func (s sinkCollector) Sink() string { return "smtp://mail.test:25" }

// TestWorkerStatusReadableByAnotherProcess: a running worker publishes its
// relay's and breakers' state to Redis, a reader with only a Redis client
// (the web process) sees it, and a stopped worker's entry goes away.
func TestWorkerStatusReadableByAnotherProcess(t *testing.T) {
	reset(t)
	ctx := context.Background()
	down := newCollector("mailer", func(string, string) bool { return true })
	down.fn = func(context.Context, *inbox.Delivery) error {
		return inbox.Unreachable("smtp://mail.test:25", errors.New("connection refused"))
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{sinkCollector{down}},
		Logger: testLogger(), StatusInterval: 20 * time.Millisecond, Breakers: inbox.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			w.Shutdown()
		}
	}()
	rdb := goredis.NewClient(&goredis.Options{Addr: redis.Addr, DB: redis.DB})
	defer rdb.Close()

	_, issueID := newIssue(t)
	record(t, testDB, issueID, "comment_added")
	var got []inbox.WorkerStatus
	waitFor(t, 10*time.Second, "the open breaker in the published status", func() bool {
		got, err = inbox.ReadWorkerStatus(ctx, rdb, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(got) == 1 && len(got[0].Breakers) == 1 && got[0].Breakers[0].State == inbox.BreakerOpen &&
			got[0].Relay != nil && got[0].Relay.Enqueued >= 1
	}, down.changed)
	s := got[0]
	if s.Breakers[0].Sink != "smtp://mail.test:25" || s.Breakers[0].LastError == "" || s.Inboxes[0] != "mailer" {
		t.Fatalf("status = %+v", s)
	}
	if !s.HeartbeatAt.Before(s.ExpiresAt) || s.StartedAt.IsZero() {
		t.Fatalf("times: %+v", s)
	}

	w.Shutdown()
	stopped = true
	if got, err := inbox.ReadWorkerStatus(ctx, rdb, "", time.Now()); err != nil || len(got) != 0 {
		t.Fatalf("after Shutdown: %v %+v, want no entry", err, got)
	}
}

// TestWorkerStatusStaleEntryDropped: an entry whose worker died without
// Shutdown is left out once it expires, and removed.
func TestWorkerStatusStaleEntryDropped(t *testing.T) {
	reset(t)
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: redis.Addr, DB: redis.DB})
	defer rdb.Close()
	if err := rdb.HSet(ctx, inbox.StatusKey("billing"), "dead:1:aa", `{"process":"dead:1:aa","expires_at":"2020-01-01T00:00:00Z"}`).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := inbox.ReadWorkerStatus(ctx, rdb, "billing", time.Now())
	if err != nil || len(got) != 0 {
		t.Fatalf("stale entry: %v %+v", err, got)
	}
	if n, _ := rdb.HLen(ctx, inbox.StatusKey("billing")).Result(); n != 0 {
		t.Fatalf("stale entry kept: %d fields", n)
	}
	if inbox.StatusKey("billing") == inbox.StatusKey("") {
		t.Fatal("two apps share a status key")
	}
}
