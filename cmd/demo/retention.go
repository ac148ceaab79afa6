package main

import (
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/retention"
)

// retentionJob is what the worker prunes every RetentionEvery: the issue
// domain's outbox leftovers (its events are kept: the domain declares no
// Retention), read notifications after 90 days, unread ones after a year,
// the ledger after 180 days, dead letters after 90, finished digests after
// 30 and workflow runs after 90. Each step logs what it removed.
func (a *App) retentionJob() (*retention.Job, error) {
	const day = 24 * time.Hour
	return retention.New(retention.Config{
		DB: a.db, Domains: []*activity.Domain{a.issues},
		ReadNotifications: 90 * day, UnreadNotifications: 365 * day,
		Deliveries: 180 * day, DeadLetters: 90 * day, Digests: 30 * day, RunLog: 90 * day,
		Now: a.cfg.Now, Logger: a.fan.logger,
	})
}
