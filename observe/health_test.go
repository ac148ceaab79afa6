package observe_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/observe"
)

func getHealth(t *testing.T, h http.Handler) (int, observe.Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var rep observe.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("health body %q: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	return rec.Code, rep
}

// Health turns non-200 within 5 s of Redis stopping, and 200 again within
// 5 s of its return. (A Redis of the test's own, on its own port.)
func TestHealthFollowsRedis(t *testing.T) {
	reset(t)
	rds := redistest.NewPrivate(t)
	h := observe.NewHealth(observe.HealthConfig{
		DB: testDB, Redis: asynq.RedisClientOpt{Addr: rds.Addr()},
		Authorize: func(*http.Request) bool { return true },
	})
	defer h.Close()
	if code, rep := getHealth(t, h); code != http.StatusOK || rep.Status != observe.StatusOK {
		t.Fatalf("with everything up: %d %+v", code, rep)
	}

	rds.Stop(t)
	stopped := time.Now()
	var rep observe.Report
	waitFor(t, 5*time.Second, "health non-200 after Redis stopped", func() bool {
		var code int
		code, rep = getHealth(t, h)
		return code != http.StatusOK
	})
	t.Logf("non-200 %v after Redis stopped", time.Since(stopped).Round(time.Millisecond))
	if rep.Status != observe.StatusDown {
		t.Fatalf("status %q, want down", rep.Status)
	}
	for _, c := range rep.Checks {
		switch c.Name {
		case "redis":
			if c.Status != observe.StatusDown || c.Error == "" {
				t.Errorf("redis check %+v, want down with its error", c)
			}
		case "postgres", "outbox":
			if c.Status != observe.StatusOK {
				t.Errorf("%s check %+v, want ok", c.Name, c)
			}
		}
	}

	rds.Start(t)
	back := time.Now()
	waitFor(t, 5*time.Second, "health 200 after Redis returned", func() bool {
		code, _ := getHealth(t, h)
		return code == http.StatusOK
	})
	t.Logf("200 %v after Redis returned", time.Since(back).Round(time.Millisecond))
}

// The outbox check goes down when the oldest row waits longer than
// MaxOutboxLag; an unauthorized request sees the status, not the details.
func TestHealthOutboxLagAndAuthorization(t *testing.T) {
	reset(t)
	if err := testDB.Exec(`INSERT INTO activity_outbox (domain, event_id, action, subject_id, created_at) VALUES ('project', 1, 'pledged', 'p-alpha', now() - interval '2 minutes')`).Error; err != nil {
		t.Fatal(err)
	}
	h := observe.NewHealth(observe.HealthConfig{DB: testDB, MaxOutboxLag: time.Minute})
	code, rep := getHealth(t, h)
	if code != http.StatusServiceUnavailable || rep.Status != observe.StatusDown {
		t.Fatalf("outbox 2 minutes behind: %d %+v, want 503 down", code, rep)
	}
	if len(rep.Checks) != 0 {
		t.Fatalf("an unauthorized request saw the checks: %+v", rep.Checks)
	}
	full := h.Check(context.Background())
	var outbox observe.CheckResult
	for _, c := range full.Checks {
		if c.Name == "outbox" {
			outbox = c
		}
	}
	if outbox.Status != observe.StatusDown || !strings.Contains(outbox.Detail, "over 1m0s") {
		t.Fatalf("outbox check %+v", outbox)
	}
}

// A circuit breaker (or anything else) reports through a Check: degraded
// keeps 200, down makes 503.
func TestHealthChecksFromTheApp(t *testing.T) {
	state := observe.StatusDegraded
	breaker := observe.CheckFunc("breaker:slack", func(context.Context) (observe.Status, string, error) {
		return state, "slack breaker open: deliveries held", nil
	})
	h := observe.NewHealth(observe.HealthConfig{Checks: []observe.Check{breaker}, Authorize: func(*http.Request) bool { return true }})
	code, rep := getHealth(t, h)
	if code != http.StatusOK || rep.Status != observe.StatusDegraded || len(rep.Checks) != 1 || rep.Checks[0].Detail == "" {
		t.Fatalf("degraded breaker: %d %+v", code, rep)
	}
	state = observe.StatusDown
	if code, rep := getHealth(t, h); code != http.StatusServiceUnavailable || rep.Status != observe.StatusDown {
		t.Fatalf("down breaker: %d %+v", code, rep)
	}
}

// A worker run with DisableRelay has no relay: passing its nil one adds no
// LISTEN check rather than panicking.
func TestHealthWithoutARelay(t *testing.T) {
	var none *inbox.Relay
	h := observe.NewHealth(observe.HealthConfig{Relay: none, Authorize: func(*http.Request) bool { return true }})
	if code, rep := getHealth(t, h); code != http.StatusOK || len(rep.Checks) != 0 {
		t.Fatalf("%d %+v", code, rep)
	}
}

type breakers []inbox.BreakerState

func (b breakers) Breakers() []inbox.BreakerState { return b }

// An open breaker degrades health (its deliveries are held, nothing is
// lost) and names the sink; closed ones leave it OK.
func TestBreakersCheck(t *testing.T) {
	ctx := context.Background()
	closed := breakers{{Sink: "smtp://mail:25", State: inbox.BreakerClosed}}
	if r := observe.BreakersCheck(closed).Check(ctx); r.Status != observe.StatusOK {
		t.Errorf("closed breakers: %+v, want ok", r)
	}
	open := append(closed, inbox.BreakerState{Sink: "https://hooks.slack.com", State: inbox.BreakerOpen, Held: 3, LastError: "503"})
	r := observe.BreakersCheck(open).Check(ctx)
	if r.Status != observe.StatusDegraded || !strings.Contains(r.Detail, "https://hooks.slack.com open") || strings.Contains(r.Detail, "smtp") {
		t.Errorf("an open breaker: %+v, want degraded naming only the open sink", r)
	}
}
