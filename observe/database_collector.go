package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// databaseCollector reads the outbox and the dead letters on each scrape:
// two aggregate queries, bounded by the scrape timeout.
type databaseCollector struct {
	db      *gorm.DB
	timeout time.Duration

	depth, age, dead, up *prometheus.Desc
}

func newDatabaseCollector(ns string, db *gorm.DB, timeout time.Duration) *databaseCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	return &databaseCollector{
		db: db, timeout: timeout,
		depth: d("outbox_rows", "Outbox rows waiting for the relay, by domain (committed events not yet handed to asynq).", "domain"),
		age:   d("outbox_oldest_age_seconds", "Age of the oldest outbox row, by domain: how far behind fan-out is.", "domain"),
		dead:  d("dead_letters", "Dead letters not re-driven, by inbox.", "inbox"),
		up:    d("database_scrape_ok", "1 when the outbox and dead letter queries of this scrape succeeded."),
	}
}

func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.dead
	ch <- c.up
}

func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ok := 1.0
	var outbox []struct {
		Domain string
		Rows   int64
		Age    float64
	}
	err := c.db.WithContext(ctx).Raw(`SELECT domain, count(*) AS rows, extract(epoch FROM now() - min(created_at))::float8 AS age FROM ` +
		activity.OutboxTable + ` GROUP BY domain`).Scan(&outbox).Error
	if err != nil {
		ok = 0
	}
	for _, o := range outbox {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(o.Rows), o.Domain)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(o.Age, 0), o.Domain)
	}
	var dead []struct {
		Inbox string
		N     int64
	}
	if err := c.db.WithContext(ctx).Raw(`SELECT inbox, count(*) AS n FROM inbox_dead_letters WHERE redriven_at IS NULL GROUP BY inbox`).Scan(&dead).Error; err != nil {
		ok = 0
	}
	for _, d := range dead {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(d.N), d.Inbox)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, ok)
}
