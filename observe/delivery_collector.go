package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidingsdev/tidings/inbox"
)

// Worker exports a worker's counters, read on each scrape: its deliveries
// (see Deliveries) and its relay's (see Relay; none with DisableRelay).
// Call it once per worker.
func (m *Metrics) Worker(w *inbox.Worker) error {
	if err := m.Deliveries(w.Metrics()); err != nil {
		return err
	}
	if r := w.Relay(); r != nil {
		return m.Relay(r)
	}
	return nil
}

// Deliveries exports delivery counters, read on each scrape: attempts per
// inbox and outcome (tidings_deliveries_total: done, suppressed, retried,
// held, dead), panics, and time spent in Process. A worker's counters are
// Worker.Metrics; every inbox of the worker has its series from the start.
func (m *Metrics) Deliveries(counts *inbox.Metrics) error {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(m.ns, "", name), help, labels, nil)
	}
	return m.register(&deliveryCollector{
		counts:     counts,
		deliveries: d("deliveries_total", "Delivery attempts by inbox and outcome: done, suppressed (nothing to deliver: all muted), retried, held (by a circuit breaker, retried), dead (a dead letter).", "inbox", "outcome"),
		panics:     d("delivery_panics_total", "Delivery attempts that panicked (also counted by outcome).", "inbox"),
		busy:       d("delivery_busy_seconds_total", "Time spent in inboxes' Process.", "inbox"),
	})
}

type deliveryCollector struct {
	counts                   *inbox.Metrics
	deliveries, panics, busy *prometheus.Desc
}

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.deliveries
	ch <- c.panics
	ch <- c.busy
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
	}
	for _, s := range c.counts.Snapshot() {
		counter(c.deliveries, float64(s.Succeeded-s.Suppressed), s.Inbox, string(inbox.OutcomeDone))
		counter(c.deliveries, float64(s.Suppressed), s.Inbox, string(inbox.OutcomeSuppressed))
		counter(c.deliveries, float64(s.Retried-s.Held), s.Inbox, string(inbox.OutcomeRetried))
		counter(c.deliveries, float64(s.Held), s.Inbox, string(inbox.OutcomeHeld))
		counter(c.deliveries, float64(s.Failed), s.Inbox, string(inbox.OutcomeDead))
		counter(c.panics, float64(s.Panics), s.Inbox)
		counter(c.busy, s.Busy.Seconds(), s.Inbox)
	}
}
