package observe_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/observe"
)

// Wiring metrics, tracing and health into an app: observers on the domain,
// middleware on the worker, the worker's counters, and two handlers.
func Example() {
	ctx := context.Background()
	db, redisOpt := testDB, redis // the app's (here the tests')

	reg := prometheus.NewRegistry()
	metrics, err := observe.NewMetrics(observe.MetricsConfig{Registerer: reg, DB: db, Redis: redisOpt})
	if err != nil {
		panic(err)
	}
	tracing := observe.NewTracing(observe.TracingConfig{}) // the global TracerProvider

	projects := activity.MustDomain(activity.DomainConfig{
		Name: "project", Subject: activity.Subject{Table: "projects", KeyType: activity.KeyText},
		Actions:  []string{"pledged", "refunded", "viewed"},
		Observer: activity.Observers(metrics.Recording(), tracing.Recording()),
	})
	worker, err := inbox.NewWorker(inbox.Config{
		DB: db, Redis: redisOpt, Domains: []*activity.Domain{projects},
		Inboxes:    []inbox.Inbox{thanks{}},
		Middleware: []inbox.Middleware{tracing.Delivery(), metrics.Delivery()},
	})
	if err != nil {
		panic(err)
	}
	if err := metrics.Worker(worker); err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("GET /healthz", observe.NewHealth(observe.HealthConfig{DB: db, Redis: redisOpt, Relay: worker.Relay()}))
	handler := tracing.HTTP(mux) // the app serves it: http.ListenAndServe(addr, handler)

	// A pledge is recorded; the metrics page counts it (every series of
	// the domain's actions is there from the start, at 0).
	if _, err := projects.RecordEvent(ctx, db, "p-alpha", "pledged", activity.Actor(activity.Ref{Type: "users", ID: "example-7"})); err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "tidings_events_recorded_total") && !strings.HasSuffix(l, " 0") {
			fmt.Println(l)
		}
	}
	// Output: tidings_events_recorded_total{action="pledged",domain="project",result="inserted"} 1
}

// thanks is the app's inbox: it thanks each backer.
type thanks struct{}

func (thanks) Name() string                                   { return "thanks" }
func (thanks) Accepts(domain, action string) bool             { return action == "pledged" }
func (thanks) Process(context.Context, *inbox.Delivery) error { return nil }
