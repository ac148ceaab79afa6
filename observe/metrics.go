package observe

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
)

// MetricsConfig configures Metrics. Zero fields take the documented
// defaults.
type MetricsConfig struct {
	// Registerer is where the metrics are registered. Required: pass your
	// own prometheus.NewRegistry(), or prometheus.DefaultRegisterer if
	// you want the global one (nothing is registered there otherwise).
	Registerer prometheus.Registerer
	// Namespace prefixes every metric name. Default "tidings".
	Namespace string
	// DB, when set, adds the outbox (depth and oldest age per domain) and
	// dead letter gauges, read with two aggregate queries on each scrape
	// (each reads its whole table: cheap while fan-out keeps up, a scan
	// of the backlog when it does not).
	DB *gorm.DB
	// Redis, when set, adds asynq's own queue collector
	// (github.com/hibiken/asynq/x/metrics: asynq_queue_size, ...).
	Redis asynq.RedisConnOpt
	// ScrapeTimeout bounds the queries run on a scrape. Default 5s.
	ScrapeTimeout time.Duration
	// LatencyBuckets are the buckets of the commit-to-done delivery
	// latency histogram, in seconds. Default 5ms to 10 minutes.
	LatencyBuckets []float64
	// Now is the clock delivery latencies are measured with, against
	// events' created_at (the domain's clock). Default time.Now.
	Now func() time.Time
}

// DefaultLatencyBuckets are the default MetricsConfig.LatencyBuckets.
var DefaultLatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 600}

// Metrics exports the pipeline to Prometheus: recording (an
// activity.Observer), deliveries (an inbox.Middleware and the worker's
// counters), the relay, the outbox, dead letters, workflow rules and
// actions, push connections, and asynq's queues. Every label is bounded
// by what the code declares (domain, action, inbox, outcome, action
// type): there is no per-user, per-subject or per-event label.
type Metrics struct {
	ns        string
	reg       prometheus.Registerer
	inspector *asynq.Inspector
	timeout   time.Duration
	now       func() time.Time

	recorded    *prometheus.CounterVec   // domain, action, result
	latency     *prometheus.HistogramVec // inbox
	rules       *prometheus.CounterVec   // domain, action, verdict
	actions     *prometheus.CounterVec   // type, outcome
	connections prometheus.Gauge
}

// NewMetrics registers the metrics on cfg.Registerer.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	if cfg.Registerer == nil {
		return nil, &ConfigError{Field: "MetricsConfig.Registerer", Reason: "is nil: pass a prometheus.NewRegistry() (or prometheus.DefaultRegisterer to use the global one)"}
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "tidings"
	}
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = 5 * time.Second
	}
	if len(cfg.LatencyBuckets) == 0 {
		cfg.LatencyBuckets = DefaultLatencyBuckets
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Metrics{ns: cfg.Namespace, reg: cfg.Registerer, timeout: cfg.ScrapeTimeout, now: cfg.Now}
	m.recorded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: m.ns, Name: "events_recorded_total",
		Help: "RecordEvent calls by domain, action and result: inserted (a new event, fanned out after commit), throttled (a repeat folded into a recent event), failed (refused or not written).",
	}, []string{"domain", "action", "result"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: m.ns, Name: "delivery_latency_seconds",
		Help:    "Time from an event's recording to the end of its successful delivery, by inbox (includes the relay, the queue and retries).",
		Buckets: cfg.LatencyBuckets,
	}, []string{"inbox"})
	m.rules = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: m.ns, Name: "workflow_rule_evaluations_total",
		Help: "Workflow rules evaluated against events, by the event's domain and action and the verdict (matched, no_match, failed).",
	}, []string{"domain", "action", "verdict"})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: m.ns, Name: "workflow_actions_total",
		Help: "Workflow action runs by action type and outcome (done, failed, stopped by the causation depth).",
	}, []string{"type", "outcome"})
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: m.ns, Name: "push_connections",
		Help: "Open live notification streams (server-sent events) in this process.",
	})
	cs := []prometheus.Collector{m.recorded, m.latency, m.rules, m.actions, m.connections}
	if cfg.DB != nil {
		cs = append(cs, newDatabaseCollector(m.ns, cfg.DB, cfg.ScrapeTimeout))
	}
	if cfg.Redis != nil {
		m.inspector = asynq.NewInspector(cfg.Redis)
		cs = append(cs, asynqmetrics.NewQueueMetricsCollector(m.inspector))
	}
	for _, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("observe: register metrics: %w", err)
		}
	}
	return m, nil
}

// Close releases the asynq inspector made for MetricsConfig.Redis.
func (m *Metrics) Close() error {
	if m.inspector != nil {
		return m.inspector.Close()
	}
	return nil
}

// register registers c, tolerating a second registration of the same
// collector.
func (m *Metrics) register(c prometheus.Collector) error {
	err := m.reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return nil
	}
	return err
}
