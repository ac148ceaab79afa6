package main

import (
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tidingsdev/tidings/observe"
)

// telemetry is the demo's metrics, tracing and health: a registry of its
// own (served at /metrics), spans through Config.TracerProvider (the
// global no-op one unless set), and /healthz.
type telemetry struct {
	registry *prometheus.Registry
	metrics  *observe.Metrics
	tracing  *observe.Tracing
	health   *observe.Health
}

// startTelemetry makes the metrics and tracing; the domain, the worker and
// the engine are wired to them as they are made.
func (a *App) startTelemetry(redis asynq.RedisConnOpt) error {
	t := &telemetry{registry: prometheus.NewRegistry()}
	a.tel = t
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	t.metrics, err = observe.NewMetrics(observe.MetricsConfig{
		Registerer: t.registry, DB: a.db, Redis: redis,
	})
	if err != nil {
		return err
	}
	t.tracing = observe.NewTracing(observe.TracingConfig{TracerProvider: a.cfg.TracerProvider})
	return nil
}

// startHealth makes /healthz once the worker (and its relay) exists; a web
// process runs no relay, so it reports none. The demo shows the details to
// everyone: it runs on your machine. An app behind the internet authorizes
// its operators only.
func (a *App) startHealth(redis asynq.RedisConnOpt) {
	hc := observe.HealthConfig{
		DB: a.db, Redis: redis,
		Authorize: func(*http.Request) bool { return true },
	}
	if a.cfg.Role != RoleWeb {
		hc.Relay = a.client.Worker().Relay()
		hc.Checks = append(hc.Checks, observe.BreakersCheck(a.client.Worker()))
	}
	a.tel.health = observe.NewHealth(hc)
}

// OpsHandler serves /metrics and /healthz alone: what a worker process
// (which serves no pages) exposes with -metrics-addr.
func (a *App) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.tel.metricsHandler())
	mux.Handle("GET /healthz", a.tel.health)
	return mux
}

func (t *telemetry) metricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

func (t *telemetry) close() {
	if t == nil {
		return
	}
	_ = t.metrics.Close()
	if t.tracing != nil {
		t.tracing.Flush() // the recording spans waiting for their group, before the app shuts its provider down
	}
	if t.health != nil {
		_ = t.health.Close()
	}
}
