package observe_test

import (
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/observe"
)

// Wiring metrics, tracing and health into an app: observers on the domain,
// middleware on the worker, the worker's counters, and two handlers.
func Example() {
	var db *gorm.DB // the app's
	redisOpt := asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}

	reg := prometheus.NewRegistry()
	metrics, err := observe.NewMetrics(observe.MetricsConfig{Registerer: reg, DB: db, Redis: redisOpt})
	if err != nil {
		panic(err)
	}
	tracing := observe.NewTracing(observe.TracingConfig{}) // the global TracerProvider

	projects := activity.MustDomain(activity.DomainConfig{
		Name: "project", Actions: []string{"pledged"},
		Observer: activity.Observers(metrics.Recording(), tracing.Recording()),
	})
	worker, err := inbox.NewWorker(inbox.Config{
		DB: db, Redis: redisOpt, Domains: []*activity.Domain{projects},
		Inboxes:    []inbox.Inbox{ /* ... */ },
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
	_ = http.ListenAndServe("127.0.0.1:8080", tracing.HTTP(mux))
}
