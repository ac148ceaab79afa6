package observe

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

func postgresCheck(db *gorm.DB) Check {
	return CheckFunc("postgres", func(ctx context.Context) (Status, string, error) {
		sqlDB, err := db.DB()
		if err != nil {
			return StatusDown, "", err
		}
		if err := sqlDB.PingContext(ctx); err != nil {
			return StatusDown, "PostgreSQL does not answer: nothing can be recorded", err
		}
		return StatusOK, "", nil
	})
}

// outboxCheck reads the oldest outbox row through the primary key (one
// index probe, however long the outbox).
func outboxCheck(db *gorm.DB, limit time.Duration) Check {
	return CheckFunc("outbox", func(ctx context.Context) (Status, string, error) {
		var lag sql.NullFloat64
		err := db.WithContext(ctx).Raw(`SELECT extract(epoch FROM now() - created_at)::float8 FROM ` + activity.OutboxTable + ` ORDER BY id LIMIT 1`).Row().Scan(&lag)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return StatusOK, "empty", nil
		case err != nil:
			return StatusDown, "", err
		}
		d := time.Duration(max(lag.Float64, 0) * float64(time.Second)).Round(time.Millisecond)
		if d > limit {
			return StatusDown, fmt.Sprintf("the oldest outbox row waits for %v, over %v: fan-out is stuck or behind (is the relay running? is Redis up?)", d, limit), nil
		}
		return StatusOK, fmt.Sprintf("oldest row waits for %v", d), nil
	})
}

func redisCheck(opt asynq.RedisConnOpt) (Check, func() error) {
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return CheckFunc("redis", func(context.Context) (Status, string, error) {
			return StatusDown, "", fmt.Errorf("observe: %T makes no go-redis client", opt)
		}), func() error { return nil }
	}
	return CheckFunc("redis", func(ctx context.Context) (Status, string, error) {
		if err := c.Ping(ctx).Err(); err != nil {
			return StatusDown, "Redis does not answer: nothing is enqueued or delivered; recording goes on and the outbox keeps every event", err
		}
		return StatusOK, "", nil
	}), c.Close
}

func listenCheck(r interface{ Listening() bool }) Check {
	return CheckFunc("relay_listen", func(context.Context) (Status, string, error) {
		if !r.Listening() {
			return StatusDegraded, "the relay's LISTEN connection is down: it polls meanwhile (fan-out slower, nothing lost)", nil
		}
		return StatusOK, "", nil
	})
}

// BreakersCheck reports a worker's circuit breakers (inbox.Worker.Breakers):
// down while a sink refuses the app's configuration (BreakerState.
// Misconfigured: mandatory TLS without STARTTLS, a refused login or sender;
// its deliveries fail until the configuration is fixed), naming the sink
// and the reason; else degraded while any breaker is open or half-open,
// naming the sinks and their last error (their deliveries are held and
// retried, nothing is lost).
func BreakersCheck(w interface{ Breakers() []inbox.BreakerState }) Check {
	return CheckFunc("breakers", func(context.Context) (Status, string, error) {
		var bs []inbox.BreakerStatus
		for _, b := range w.Breakers() {
			bs = append(bs, inbox.BreakerStatus{Sink: b.Sink, State: b.State, Since: b.Since, Held: b.Held, LastError: b.LastError,
				Misconfigured: b.Misconfigured, MisconfiguredSince: b.MisconfiguredSince})
		}
		return breakersVerdict(bs)
	})
}

// WorkerBreakersCheck reports the circuit breakers every running worker of
// app publishes to Redis (inbox.ReadWorkerStatus), as BreakersCheck does
// for one worker in the process: for a web process, whose workers run
// elsewhere. Their last errors are kinds, never texts.
func WorkerBreakersCheck(rdb redis.UniversalClient, app string) Check {
	return CheckFunc("breakers", func(ctx context.Context) (Status, string, error) {
		ws, err := inbox.ReadWorkerStatus(ctx, rdb, app, time.Now())
		if err != nil {
			return StatusDown, "", err
		}
		var bs []inbox.BreakerStatus
		for _, w := range ws {
			bs = append(bs, w.Breakers...)
		}
		return breakersVerdict(bs)
	})
}

func breakersVerdict(bs []inbox.BreakerStatus) (Status, string, error) {
	var held, refused []string
	for _, b := range bs {
		if b.Misconfigured != "" {
			refused = append(refused, fmt.Sprintf("%s refuses the configuration since %s: %s", b.Sink, b.MisconfiguredSince.UTC().Format(time.RFC3339), b.Misconfigured))
		}
		if b.State != inbox.BreakerClosed {
			held = append(held, fmt.Sprintf("%s %s since %s (%d held; %s)", b.Sink, b.State, b.Since.UTC().Format(time.RFC3339), b.Held, b.LastError))
		}
	}
	switch {
	case len(refused) > 0:
		return StatusDown, strings.Join(append(refused, held...), "; "), nil
	case len(held) > 0:
		return StatusDegraded, strings.Join(held, "; "), nil
	}
	return StatusOK, "all closed", nil
}
