package inbox

import (
	"context"
	"time"
)

// Periodic is an inbox with work of its own to do on a schedule, besides
// its deliveries: the escalations and old-table digests of an email inbox
// (email.Inbox.Flush). tidings.NewClient schedules the task of each such
// inbox it runs (Config.Inboxes) on the worker's default queue, one tick
// every PeriodicTask.Every, unique while it waits or runs so the
// schedulers of several worker processes do not pile it up. An app that
// builds its own Worker runs the task itself (on a timer, a cron job, an
// asynq periodic task).
//
// Batch windows are not periodic work: a batching inbox's windows are
// flushed by the batch scheduler and the sweep (Batcher).
type Periodic interface {
	Inbox
	// Periodic returns the inbox's periodic task, and false when it has
	// none in its configuration (an email inbox mailing each event at
	// once).
	Periodic() (PeriodicTask, bool)
}

// PeriodicTask is the work a Periodic inbox needs run on a schedule.
type PeriodicTask struct {
	// Every is the interval between two runs. Required (positive).
	Every time.Duration
	// Run does one tick's work on the inbox's clock. Several processes
	// may run it at once, and a tick may run twice (asynq is at least
	// once): it claims its work (FOR UPDATE SKIP LOCKED) rather than
	// assuming it is alone. An error is logged; the tick is retried once
	// and the next tick runs anyway.
	Run func(ctx context.Context) error
}
