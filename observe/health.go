package observe

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
)

// Status is the health of one check, or of the whole.
type Status string

// The statuses, from best to worst.
const (
	StatusOK       Status = "ok"
	StatusDegraded Status = "degraded" // working, slower or with less margin (the relay polls without LISTEN)
	StatusDown     Status = "down"     // a part the pipeline needs is unreachable or stuck
)

func (s Status) worse(t Status) bool { return rank[s] > rank[t] }

var rank = map[Status]int{StatusOK: 0, StatusDegraded: 1, StatusDown: 2}

// CheckResult is one check's verdict.
type CheckResult struct {
	Name   string  `json:"name"`
	Status Status  `json:"status"`
	Detail string  `json:"detail,omitempty"`
	Error  string  `json:"error,omitempty"`
	TookMS float64 `json:"took_ms"`
}

// Check is one part of the health report. Postgres, Redis, the relay's
// LISTEN connection and the outbox lag are built in; add your own
// through HealthConfig.Checks, which is also how circuit breakers report
// their state: an open breaker is a Check returning StatusDegraded (its
// deliveries are held and retried, nothing is lost) with the sink's name in
// its Detail.
type Check interface {
	Name() string
	Check(ctx context.Context) CheckResult
}

// CheckFunc makes a Check of a function returning a status, a detail for
// people, and the error that caused a bad status.
func CheckFunc(name string, fn func(ctx context.Context) (Status, string, error)) Check {
	return checkFunc{name, fn}
}

type checkFunc struct {
	name string
	fn   func(context.Context) (Status, string, error)
}

func (c checkFunc) Name() string { return c.name }
func (c checkFunc) Check(ctx context.Context) CheckResult {
	s, detail, err := c.fn(ctx)
	r := CheckResult{Name: c.name, Status: s, Detail: detail}
	if err != nil {
		r.Error = err.Error()
		if s == StatusOK || s == "" {
			r.Status = StatusDown
		}
	}
	if r.Status == "" {
		r.Status = StatusOK
	}
	return r
}

// HealthConfig configures Health. Zero fields take the documented
// defaults; each of DB, Redis and Relay adds its checks when set.
type HealthConfig struct {
	// DB adds the "postgres" check (a ping) and the "outbox" check (the
	// age of the oldest outbox row: down past MaxOutboxLag).
	DB *gorm.DB
	// Redis adds the "redis" check (a PING).
	Redis asynq.RedisConnOpt
	// Relay adds the "relay_listen" check: degraded while the relay's
	// LISTEN connection is down (it polls meanwhile). An *inbox.Relay.
	Relay interface{ Listening() bool }
	// MaxOutboxLag is the age of the oldest outbox row past which fan-out
	// counts as stuck. Default 1 minute.
	MaxOutboxLag time.Duration
	// Checks are more checks: circuit breakers, projections, your own.
	Checks []Check
	// Timeout bounds each check. Default 2s.
	Timeout time.Duration
	// Authorize decides who sees the report's details (each check, its
	// errors: host names, addresses). Default: nobody; an unauthorized
	// request still gets the status code and the overall status, which
	// is all a load balancer or uptime probe needs.
	Authorize func(*http.Request) bool
	// Now is the clock of the report. Default time.Now.
	Now func() time.Time
}

// Health reports whether the pipeline works: PostgreSQL and Redis
// reachable, the relay listening, the outbox not falling behind, and any
// checks the app adds. As an http.Handler it answers JSON, 200 when
// nothing is down and 503 when something is:
//
//	{"status":"down","checked_at":"...","checks":[{"name":"redis","status":"down","error":"dial tcp 127.0.0.1:6379: connect: connection refused","took_ms":0.4}, ...]}
//
// Recording does not need Redis, so do not use it as the liveness probe
// of web processes (a Redis outage would restart them for nothing): it is
// for alerting, dashboards and the readiness of workers.
type Health struct {
	cfg    HealthConfig
	checks []Check
	close  func() error
}

// Report is a health report.
type Report struct {
	Status    Status        `json:"status"`
	CheckedAt time.Time     `json:"checked_at"`
	Checks    []CheckResult `json:"checks,omitempty"`
}

// NewHealth returns the health checks of cfg.
func NewHealth(cfg HealthConfig) *Health {
	if cfg.MaxOutboxLag <= 0 {
		cfg.MaxOutboxLag = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Health{cfg: cfg, close: func() error { return nil }}
	if cfg.DB != nil {
		h.checks = append(h.checks, postgresCheck(cfg.DB), outboxCheck(cfg.DB, cfg.MaxOutboxLag))
	}
	if cfg.Redis != nil {
		c, closeFn := redisCheck(cfg.Redis)
		h.checks = append(h.checks, c)
		h.close = closeFn
	}
	if r, ok := cfg.Relay.(*inbox.Relay); cfg.Relay != nil && (!ok || r != nil) { // a worker with DisableRelay has a nil one
		h.checks = append(h.checks, listenCheck(cfg.Relay))
	}
	h.checks = append(h.checks, cfg.Checks...)
	return h
}

// Close releases the Redis client made for the "redis" check.
func (h *Health) Close() error { return h.close() }

// Check runs every check at once and returns the report: down when any
// check is down, degraded when any is degraded.
func (h *Health) Check(ctx context.Context) Report {
	rep := Report{Status: StatusOK, CheckedAt: h.cfg.Now().UTC(), Checks: make([]CheckResult, len(h.checks))}
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
			defer cancel()
			start := time.Now()
			r := c.Check(cctx)
			r.Name = c.Name()
			r.TookMS = float64(time.Since(start).Microseconds()) / 1000
			if r.Status == "" {
				r.Status = StatusOK
			}
			rep.Checks[i] = r
		}()
	}
	wg.Wait()
	for _, r := range rep.Checks {
		if r.Status.worse(rep.Status) {
			rep.Status = r.Status
		}
	}
	return rep
}

// ServeHTTP answers the report as JSON: 200 unless a check is down, 503
// then. Details only for requests HealthConfig.Authorize accepts.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := h.Check(r.Context())
	if h.cfg.Authorize == nil || !h.cfg.Authorize(r) {
		rep.Checks = nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	code := http.StatusOK
	if rep.Status == StatusDown {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}
