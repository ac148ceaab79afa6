package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidingsdev/tidings/inbox"
)

// Relay exports a relay's counters (Relay.Stats), read on each scrape:
// batches, rows claimed, jobs enqueued, duplicates, failed enqueues, rows
// no inbox wanted, and whether its LISTEN connection is up. Worker calls it
// for a worker's relay; call it for a relay you run on its own.
func (m *Metrics) Relay(r *inbox.Relay) error {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(m.ns, "", name), help, nil, nil)
	}
	return m.register(&relayCollector{
		relay:      r,
		batches:    d("relay_batches_total", "Relay transactions that claimed outbox rows."),
		rows:       d("relay_rows_total", "Outbox rows the relay claimed."),
		enqueued:   d("relay_enqueued_total", "Jobs the relay enqueued."),
		duplicates: d("relay_duplicates_total", "Enqueues refused as existing task IDs (already enqueued: counted as done)."),
		failed:     d("relay_enqueue_failures_total", "Enqueues that failed; their outbox rows stay, with a backoff."),
		unwanted:   d("relay_unwanted_total", "Outbox rows no inbox accepted."),
		listening:  d("relay_listening", "1 when the relay's LISTEN connection is up, 0 when it only polls."),
	})
}

type relayCollector struct {
	relay                                                            *inbox.Relay
	batches, rows, enqueued, duplicates, failed, unwanted, listening *prometheus.Desc
}

func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.batches, c.rows, c.enqueued, c.duplicates, c.failed, c.unwanted, c.listening} {
		ch <- d
	}
}

func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.relay.Stats()
	for _, x := range []struct {
		d *prometheus.Desc
		v int64
	}{{c.batches, s.Batches}, {c.rows, s.Rows}, {c.enqueued, s.Enqueued}, {c.duplicates, s.Duplicates}, {c.failed, s.Failed}, {c.unwanted, s.Unwanted}} {
		ch <- prometheus.MustNewConstMetric(x.d, prometheus.CounterValue, float64(x.v))
	}
	up := 0.0
	if c.relay.Listening() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.listening, prometheus.GaugeValue, up)
}
