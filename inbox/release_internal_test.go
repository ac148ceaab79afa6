package inbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/internal/redistest"
)

// Two workers share a Redis; both breakers for a sink are open. When the
// first sees the sink answer, the second's next held attempt learns it from
// Redis (SinksKey) and runs, closing its breaker, instead of holding the
// jobs the first released until its own probe; a note older than the
// second's outage does not close it.
func TestAnsweredElsewhereClosesTheBreaker(t *testing.T) {
	ctx := context.Background()
	opt, err := redistest.Flush(ctx, 13)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	worker := func() *Worker {
		w := &Worker{cfg: Config{App: "relt", Redis: asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB}}, log: quiet, now: clock,
			inboxes: map[string]*registered{}}
		w.breakers = newBreakers(BreakerConfig{Failures: 1, OpenFor: time.Minute, MaxOpenFor: time.Minute}, clock, quiet)
		w.breakers.onAnswered = w.sinkAnswered // as NewWorker does
		w.startSinkNews()
		t.Cleanup(w.stopSinkNews)
		return w
	}
	first, second := worker(), worker()
	const sink = "smtp://mail.test:25"
	down := Unreachable(sink, errors.New("connection refused"))

	second.breakers.report(sink, down) // opens at now
	held := second.breakers.allow(sink, time.Minute)
	if !errors.Is(held, ErrHeld) || second.answeredElsewhere(ctx, held) {
		t.Fatalf("allow gave %v; want held, with no note in Redis", held)
	}
	// A note from before this outage changes nothing.
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.HSet(ctx, SinksKey("relt"), sink, now.Add(-time.Second).UnixNano()).Err(); err != nil {
		t.Fatal(err)
	}
	if held := second.breakers.allow(sink, time.Minute); second.answeredElsewhere(ctx, held) {
		t.Fatal("a note older than the outage closed the breaker")
	}

	now = now.Add(10 * time.Second)
	first.breakers.report(sink, down)
	first.breakers.report(sink, nil) // the first worker's probe: the sink answers
	held = second.breakers.allow(sink, time.Minute)
	if held == nil || !second.answeredElsewhere(ctx, held) {
		t.Fatalf("allow gave %v, not run after the first worker saw the sink answer", held)
	}
	if bs := second.Breakers(); len(bs) != 1 || bs[0].State != BreakerClosed || bs[0].Failures != 0 {
		t.Errorf("the second worker's breaker %+v; want closed", bs)
	}
	if err := second.breakers.allow(sink, time.Minute); err != nil {
		t.Errorf("after closing: %v", err)
	}
}
