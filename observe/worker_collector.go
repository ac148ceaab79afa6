package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidingsdev/tidings/inbox"
)

// Worker exports a worker's counters, read on each scrape: deliveries per
// inbox and outcome (tidings_deliveries_total, from Worker.Metrics), panics,
// time spent processing, and its relay's batches, rows, enqueues,
// duplicates and failures and LISTEN state (from Relay.Stats). Call it once
// per worker.
func (m *Metrics) Worker(w *inbox.Worker) error {
	return m.register(&workerCollector{ns: m.ns, w: w, descs: newWorkerDescs(m.ns)})
}

type workerDescs struct {
	deliveries, panics, busy                                  *prometheus.Desc
	batches, rows, enqueued, duplicates, failed, unwanted, up *prometheus.Desc
}

func newWorkerDescs(ns string) workerDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	return workerDescs{
		deliveries: d("deliveries_total", "Delivery attempts by inbox and outcome: done, suppressed (nothing to deliver: all muted), retried, held (by a circuit breaker, retried), dead (a dead letter).", "inbox", "outcome"),
		panics:     d("delivery_panics_total", "Delivery attempts that panicked (also counted by outcome).", "inbox"),
		busy:       d("delivery_busy_seconds_total", "Time spent in inboxes' Process.", "inbox"),
		batches:    d("relay_batches_total", "Relay transactions that claimed outbox rows."),
		rows:       d("relay_rows_total", "Outbox rows the relay claimed."),
		enqueued:   d("relay_enqueued_total", "Jobs the relay enqueued."),
		duplicates: d("relay_duplicates_total", "Enqueues refused as existing task IDs (already enqueued: counted as done)."),
		failed:     d("relay_enqueue_failures_total", "Enqueues that failed; their outbox rows stay, with a backoff."),
		unwanted:   d("relay_unwanted_total", "Outbox rows no inbox accepted."),
		up:         d("relay_listening", "1 when the relay's LISTEN connection is up, 0 when it only polls."),
	}
}

type workerCollector struct {
	ns    string
	w     *inbox.Worker
	descs workerDescs
}

func (c *workerCollector) Describe(ch chan<- *prometheus.Desc) {
	d := c.descs
	for _, x := range []*prometheus.Desc{d.deliveries, d.panics, d.busy, d.batches, d.rows, d.enqueued, d.duplicates, d.failed, d.unwanted, d.up} {
		ch <- x
	}
}

func (c *workerCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.descs
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
	}
	for _, s := range c.w.Metrics().Snapshot() {
		counter(d.deliveries, float64(s.Succeeded-s.Suppressed), s.Inbox, string(inbox.OutcomeDone))
		counter(d.deliveries, float64(s.Suppressed), s.Inbox, string(inbox.OutcomeSuppressed))
		counter(d.deliveries, float64(s.Retried-s.Held), s.Inbox, string(inbox.OutcomeRetried))
		counter(d.deliveries, float64(s.Held), s.Inbox, string(inbox.OutcomeHeld))
		counter(d.deliveries, float64(s.Failed), s.Inbox, string(inbox.OutcomeDead))
		counter(d.panics, float64(s.Panics), s.Inbox)
		counter(d.busy, s.Busy.Seconds(), s.Inbox)
	}
	r := c.w.Relay()
	if r == nil {
		return
	}
	s := r.Stats()
	counter(d.batches, float64(s.Batches))
	counter(d.rows, float64(s.Rows))
	counter(d.enqueued, float64(s.Enqueued))
	counter(d.duplicates, float64(s.Duplicates))
	counter(d.failed, float64(s.Failed))
	counter(d.unwanted, float64(s.Unwanted))
	up := 0.0
	if r.Listening() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up)
}
