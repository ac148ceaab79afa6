// Package observe makes the pipeline operable: Prometheus metrics,
// OpenTelemetry traces from a request to each delivery, and a health
// handler. It plugs into the seams the other packages expose (an
// activity.Observer on each domain, inbox.Middleware on the worker, a
// workflow.Observer on the engine); it adds no code path of its own, and
// neither activity nor inbox knows Prometheus or OpenTelemetry.
//
// # Wiring
//
//	reg := prometheus.NewRegistry() // yours: nothing goes to the global registry unless you pass it
//	metrics, _ := observe.NewMetrics(observe.MetricsConfig{Registerer: reg, DB: db, Redis: redisOpt})
//	tracing := observe.NewTracing(observe.TracingConfig{}) // the global TracerProvider: a no-op until you set one
//
//	issues, _ := activity.NewDomain(activity.DomainConfig{Name: "issue", Actions: actions,
//		Observer: activity.Observers(metrics.Recording(), tracing.Recording())})
//	engine, _ := workflow.NewEngine(workflow.EngineConfig{Rules: rules,
//		Observers: []workflow.Observer{metrics.Workflow(), tracing.Workflow()}})
//	worker, _ := inbox.NewWorker(inbox.Config{ /* ... */
//		Middleware: []inbox.Middleware{tracing.Delivery(), metrics.Delivery()}})
//	_ = metrics.Worker(worker) // deliveries by outcome, the relay's counters (metrics.Relay for a relay run alone)
//
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//	mux.Handle("GET /healthz", observe.NewHealth(observe.HealthConfig{DB: db, Redis: redisOpt, Relay: worker.Relay()}))
//	handler := tracing.HTTP(mux) // or your own otelhttp
//
//	// at shutdown: the recording spans waiting for their group, then your provider
//	tracing.Flush()
//	_ = tp.Shutdown(ctx)
//
// # Metrics
//
// All names start with the namespace (default "tidings"). Labels are only
// what code declares (domain, action, inbox, outcome, verdict, action
// type, asynq queue): no user, subject, event or rule label, so the
// number of series is fixed by the code, not by the data.
//
//	tidings_events_recorded_total{domain,action,result}   counter: result inserted | throttled | failed;
//	                                                      an action a domain does not declare counts as "(unknown)"
//	tidings_outbox_rows{domain}                           gauge, on scrape: committed events not yet relayed
//	tidings_outbox_oldest_age_seconds{domain}             gauge, on scrape: how far behind fan-out is
//	tidings_relay_batches_total, _rows_total, _enqueued_total, _duplicates_total,
//	tidings_relay_enqueue_failures_total, _unwanted_total counters (Relay.Stats)
//	tidings_relay_listening                               gauge 0/1
//	tidings_deliveries_total{inbox,outcome}               counter: done | suppressed | retried | held | dead
//	tidings_delivery_panics_total{inbox}, tidings_delivery_busy_seconds_total{inbox}
//	tidings_delivery_latency_seconds{inbox}               histogram: recording to successful delivery
//	tidings_dead_letters{inbox}                           gauge, on scrape: dead letters not re-driven
//	tidings_workflow_rule_evaluations_total{domain,action,verdict}  matched | no_match | failed
//	tidings_workflow_actions_total{type,outcome}          done | failed | stopped
//	tidings_push_connections                              gauge: open live streams (PushConnected)
//	asynq_queue_size, asynq_tasks_processed_total, ...    asynq's own collector (MetricsConfig.Redis)
//
// The throttled ratio is
// sum(rate(tidings_events_recorded_total{result="throttled"}[5m])) / sum(rate(tidings_events_recorded_total{result!="failed"}[5m])).
//
// # Alerts on event rates
//
// A declared domain's series exist at 0 from its declaration, so "no
// pledge in a minute" (Kickstarter's alert) is one rule:
//
//	groups:
//	  - name: tidings
//	    rules:
//	      - alert: NoPledges
//	        expr: sum(increase(tidings_events_recorded_total{domain="project",action="pledged",result="inserted"}[1m])) == 0
//	        for: 1m
//
// The counter counts successful RecordEvent calls; a transaction rolled
// back after the call still counted. See docs/runbook.md for the alerts
// worth having and what to do when they fire.
//
// # Traces
//
// See Tracing. With no TracerProvider configured (the OpenTelemetry
// default), spans are no-ops and events store no trace context.
//
// What it costs: metrics next to nothing (counters and histogram children
// are looked up once per domain and action, or inbox). A sampled span
// costs its SDK: the span itself (about 1.3 KB and 7 allocations per
// recording, this package's share kept small: attributes set once, no
// per-call closures) and, with the SDK's batch span processor, a wake-up
// of its goroutine for each span handed to it, which on a small busy
// machine cost more than the span. So recording spans are ended in groups
// (TracingConfig.RecordingEndBatch, 32 by default, each with the end time
// of its own call), which wake it once a group: a span reaches the span
// processors up to TracingConfig.RecordingEndDelay (20 ms) after its call
// returned, and Tracing.Flush ends those waiting, before the app shuts its
// tracer provider down. cmd/bench's observe group measures the client CPU
// per event. A sampler that keeps a fraction of traces
// (sdktrace.ParentBased with TraceIDRatioBased) pays it only for those.
//
// # Health
//
// See Health: JSON, 200 or 503, with details for authorized requests.
// Circuit breakers and other parts report through HealthConfig.Checks.
package observe
