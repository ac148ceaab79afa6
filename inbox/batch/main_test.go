package batch_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

const (
	dbName  = "tidings_test_batch"
	redisDB = 14
)

var (
	testDB   *gorm.DB
	redisOpt asynq.RedisClientOpt
	eventSeq atomic.Int64
	inboxSeq atomic.Int64
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, dbName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "batch tests need PostgreSQL:", err)
		os.Exit(1)
	}
	testDB = db
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "batch tests need Redis:", err)
		os.Exit(1)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	code := m.Run()
	if sqlDB, err := testDB.DB(); err == nil {
		_ = sqlDB.Close()
	}
	os.Exit(code)
}

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// uniqueInbox names an inbox no other test uses.
func uniqueInbox(prefix string) string { return fmt.Sprintf("%s-%d", prefix, inboxSeq.Add(1)) }

func event(subject, action, actor string) activity.Event {
	return activity.Event{
		ID: eventSeq.Add(1), Domain: "issue", SubjectID: subject, Action: action,
		ActorType: "users", ActorID: actor, ActorLabel: actor, Extra: []byte("{}"),
		OccurredAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// recorder is a DeliverFunc that keeps what it was given.
type recorder struct {
	mu      sync.Mutex
	batches []batchCopy
}

type batchCopy struct {
	ID        int64
	Recipient string
	Key       string
	Events    []activity.Event
}
