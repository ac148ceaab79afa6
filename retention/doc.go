// Package retention ends history on purpose: one call runs the retention
// of every table the library fills, each through the package that owns
// the table, and logs what it removed.
//
//	job, err := retention.New(retention.Config{
//	    DB:                  db,
//	    Domains:             []*activity.Domain{issues}, // their Partition and Retention
//	    ReadNotifications:   90 * 24 * time.Hour,
//	    UnreadNotifications: 365 * 24 * time.Hour,
//	    Deliveries:          180 * 24 * time.Hour,
//	    DeadLetters:         90 * 24 * time.Hour,
//	    Digests:             30 * 24 * time.Hour,
//	    RunLog:              90 * 24 * time.Hour,
//	})
//	report, err := job.Run(ctx)
//
// What one Run does, in order:
//
//   - each domain's events (activity.Domain.Maintain): a partitioned table
//     gets its partitions ahead, and those past the domain's Retention are
//     detached CONCURRENTLY and dropped (pg_partman's run_maintenance where
//     pg_partman keeps the table); an unpartitioned one has its expired
//     events deleted in batches; the domain's outbox rows past Retention go;
//   - notifications read more than ReadNotifications ago, and unread ones
//     older than UnreadNotifications (package inbox/notify);
//   - the deliveries ledger and the dead letters (package inbox);
//   - finished email digests (with their items) and escalations (package
//     inbox/email);
//   - the workflow run log, with its action runs (package workflow).
//
// Every delete runs in batches (Config.Batch rows per statement, each
// committing on its own): no lock is held long, and a run stopped halfway
// resumes at the next. A zero duration keeps that table forever.
//
// The entry point schedules it for you (package tidings, Config.Retention:
// "@daily" by default, on the worker it runs). By hand, Job is an asynq
// handler of TaskType served by the inbox worker, and Schedule registers
// it with an asynq.Scheduler on that worker's queue:
//
//	worker, err := inbox.NewWorker(inbox.Config{ /* ... */
//	    Tasks: map[string]asynq.Handler{retention.TaskType: job}})
//	scheduler := asynq.NewScheduler(redisOpt, nil)
//	_, err = retention.Schedule(scheduler, "@daily") // on inbox.DefaultQueue, which the worker serves
//	err = scheduler.Start() // not Run: it would take the process's SIGTERM
//	defer scheduler.Shutdown()
//
// Where no asynq scheduler runs, call Run from cron (a command that opens
// the database and calls it).
//
// Keep the ledger at least as long as dead letters and the workflow run
// log: a dead letter re-driven after its ledger row or runs were pruned
// would apply its effects again.
package retention
