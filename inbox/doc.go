// Package inbox hands each committed activity event to the places that act
// on it (inboxes: email, Slack, in-app notifications, the workflow engine,
// functions of the app's own), as asynq jobs, after the commit and only
// after it.
//
// # The flow
//
//	RecordEvent ── one statement: event row + activity_outbox row (no per-event NOTIFY)
//	COMMIT ──────▶ Relay (woken at most every WakeInterval, polling between):
//	               claims outbox rows (FOR UPDATE SKIP LOCKED), enqueues one
//	               job per (event, accepting inbox) with TaskID
//	               "inbox:domain:event_id" and a payload of references,
//	               turns the rows into inbox_pending rows (one per job), commits
//	asynq ───────▶ Worker: loads the job's event, runs Inbox.Process(ctx,
//	               delivery), retries failures, records the ones that fail
//	               for good as dead letters
//
// PostgreSQL is the source of truth; Redis only delivers. Recording never
// talks to Redis: with Redis down, RecordEvent still succeeds, the outbox
// keeps the events, and the relay hands them over when Redis is back. A
// rolled-back transaction or savepoint leaves no outbox row, so nothing
// fans out.
//
// Redis durability: PostgreSQL keeps every delivery until it is done. In
// the statement that deletes an event's outbox row, the relay records one
// inbox_pending row per (event, inbox) job it enqueued; the worker deletes
// those rows in batches (one statement per 100ms) once their jobs
// succeeded or became dead letters. The relay's sweeper looks at the rows
// still there PendingConfig.CheckAfter (1 minute) after their enqueue, then
// at doubling intervals up to MaxCheckInterval (10 minutes): a job Redis
// no longer has (flushed, restarted without persistence, failed over to a
// replica that missed the last writes) is enqueued again under its task
// ID, and the deliveries ledger keeps whatever was already done from
// happening twice. So a Redis that comes back empty loses nothing. The
// relay notices a flush or an empty restart within a second: it keeps an
// epoch marker in Redis (EpochKey, one per app, shared by its relays),
// reads it every PendingConfig.LossCheckInterval (1s), and when it is gone
// makes every pending row due at once, so the jobs Redis held resume
// within seconds of Redis answering again (cmd/bench, faults group), not
// CheckAfter later. A failover to a replica that missed the last writes
// keeps the marker: the jobs it missed wait for their check, up to
// MaxCheckInterval. Persistence (appendonly yes, appendfsync everysec, as
// asynq advises) still saves that delay.
//
// # Redis holds references
//
// Nothing personal leaves PostgreSQL, so an erasure has one place to
// reach. A job's payload is "domain event_id action" (and a backfill's
// flag), never the event: asynq keeps a completed job for
// RelayConfig.Retention, a retrying one until its last retry and an
// archived one for days, and an event's actor label, IP, user agent and
// extra would stay in Redis that long. The worker loads the event when the
// job runs, from PostgreSQL: as stored then (edited, retracted or erased
// since the commit, perhaps), the events of the jobs running at once in one
// query by primary key, on a connection of its own. An event several of the
// worker's inboxes take is loaded once for their first attempts (kept at
// most a second for them); a retry loads anew. A job of an older version
// that carried its event still runs, on the stored event.
//
// The errors asynq stores with a job (last_err, shown by asynqmon) say
// which delivery failed and what kind of failure it was (permanent, held,
// timed out, retry after 30s, the error's Go type), never its text: an
// SMTP reply naming a recipient, a webhook's response echoing a name. The
// text stays in the worker's log and in PostgreSQL, which erasure reaches:
// the ledger keeps each recipient's (Entry.LastError), the dead letter the
// final one. The worker status each worker publishes to Redis (StatusKey)
// carries its breakers' last errors as kinds too. The batch flush tasks of
// package batch carry an inbox name and a window id, the scheduled jobs
// nothing; a window's items and its errors stay in PostgreSQL, and the
// errors of Config.Tasks handlers reach asynq as kinds, like inboxes'.
//
// # How relays are woken
//
// Not by a notification per event. PostgreSQL takes one server-wide lock at
// the commit of every transaction that called pg_notify and holds it through
// the WAL flush, so when every recording notifies, recording commits run one
// at a time and group commit is lost. Measured on 2 cores with cmd/bench
// (the same statement with and without pg_notify): 0.49-0.54x at 8 writers,
// 0.33-0.36x at 32; on a disk whose flush takes 1-2 ms the whole server caps
// at a few hundred such commits per second. River, Oban and pgmq moved off
// per-insert notifications for this reason.
//
// Instead two mechanisms share the work:
//
//   - Rate-limited wake-ups. A Domain value lets the first recording of each
//     activity.DomainConfig.WakeInterval (default 100ms) carry a pg_notify on
//     activity.OutboxChannel, inside its own statement (no extra round trip),
//     delivered at its commit. A process sends at most ten per second per
//     domain, whatever its write rate. An event after a quiet spell is
//     announced at once.
//   - Adaptive polling. After a batch that found rows, the relay polls every
//     RelayConfig.MinPollInterval (5ms) for RelayConfig.ActivePeriod (200ms),
//     then doubles the pause per empty poll up to PollInterval (1s), and
//     on up to ListeningPollInterval (5s) while its LISTEN connection is
//     up (then a poll is only the safety net). An event that carried no
//     wake-up was recorded within WakeInterval of one that did, so the
//     relay is still polling tightly when it commits.
//   - In-process wake-ups. A relay registers its Wake with
//     activity.Domain.OnCommitted on each of RelayConfig.Domains (a
//     worker's Domains): the events its own process records on the pool
//     wake it right after their commit, with nothing sent to PostgreSQL.
//     Recordings in the caller's transaction and other processes' still
//     go by the two above.
//
// A wake-up lost (its transaction rolled back, the LISTEN connection down)
// only delays: polling finds the rows. activity.DomainConfig.DisableNotify
// turns wake-ups off (poll only: an event after a quiet spell then waits up
// to ListeningPollInterval, 5s, or PollInterval with the relay's
// DisableListen or ListeningPollInterval set to it). Measured figures are
// in the README (cmd/bench).
//
// # Connections of their own
//
// The relay does not use the application's pool: it opens one of its own
// (RelayConfig.MaxConns, default 2) on the same database (OwnPool), plus
// its LISTEN connection; the worker loads jobs' events on one connection
// of its own, and the workflow engine's refresh loop does the same. An application pool saturated by writers hands a
// freed connection to a random waiter among hundreds: a relay sharing it
// was measured waiting 0.25-4.6 s to begin a batch.
//
// # What is exactly once, what is at least once
//
// asynq runs a job at least once: a worker killed mid-job, a lost lease or
// a shutdown that times out runs it again. Around that:
//
//   - Enqueueing is deduplicated: a job's task ID is TaskID(inbox, event),
//     and asynq refuses a second task with an ID that exists in the queue
//     (pending, running, retrying, archived, or completed within
//     RelayConfig.Retention, default 2 minutes). A relay that dies between
//     enqueueing and deleting its rows, a second relay, a retried row: none
//     enqueues a delivery twice within that window.
//   - Database effects are exactly once: Delivery.Once (Ledger.Once) runs the
//     effect in a transaction that also inserts its row in the deliveries
//     ledger (inbox_deliveries, unique per inbox, domain, event and
//     recipient). A re-run finds the row and skips; two racing runs
//     serialise on the key. The in-app notifications (package notify) work
//     this way.
//   - External effects (an email, a Slack message) are at least once, with
//     duplicates kept to one narrow case: Delivery.Send (Ledger.Claim, then
//     MarkSent or Release) records the attempt before sending and the
//     success after, so a retried job skips recipients already sent to. Only
//     a process that dies after the send and before the mark sends again
//     (after LedgerConfig.ClaimTimeout). Pass an idempotency key where the
//     receiver takes one (email.MessageID is stable per event and recipient).
//   - Order is not kept: jobs run concurrently and retries come later.
//
// Task IDs name an event by its ID, which is unique within one PostgreSQL
// database: give each database (each app, each tenant database) its own
// Redis database, or its own Config.App, or their jobs would dedupe each
// other's.
//
// # Writing an inbox
//
// An Inbox has a stable Name, a cheap Accepts filter (the relay calls it for
// every event; an inbox that does not accept gets no job) and Process:
//
//	audit := inbox.Func("audit", inbox.On("issue", "comment_deleted"),
//		func(ctx context.Context, d *inbox.Delivery) error {
//			_, err := d.Once(ctx, d.DB, "", func(tx *gorm.DB) error {
//				return tx.Create(&AuditEntry{EventID: d.Event.ID, Who: d.Event.ActorLabel}).Error
//			})
//			return err
//		})
//
// The name is part of every task type, task ID and ledger row: renaming an
// inbox makes it a new inbox. Jobs already enqueued for the old name find no
// inbox (they are retried, then become dead letters), and the old name's
// ledger rows do not count for the new one, so events handed to the renamed
// inbox again are delivered again. Names are 1-64 of a-z 0-9 _ . - and start
// with a letter.
//
// Process gets a Delivery: the event (as stored when the attempt started:
// the worker loads it, see "Redis holds references"), the attempt number,
// the database and the ledger. Its context carries the event as the cause
// (activity.WithCause): events recorded while handling it get its ID as
// causation, the same correlation id, source "job", and depth+1. A chain
// deeper than the domain's MaxDepth (default 8) is refused with
// activity.ErrCausationDepth; the worker logs it as a loop and does not
// retry it.
//
// Return nil when done. Any error is retried with the inbox's Backoff up to
// Policy.MaxRetry times; Permanent(err) is not retried at all (a refused
// address, a malformed event); RetryAfter(d, err) waits at least d (a
// rate-limited API's Retry-After; asynq keeps retry times in whole seconds,
// so the wait is rounded up to one). A panic is recovered and retried.
//
// A Policy (InboxWithPolicy, or WithPolicy for any inbox) sets the queue,
// retries, per-attempt timeout and backoff. Defaults: queue "tidings", 10
// retries, 1 minute, exponential from 1s to 10 minutes with jitter.
//
// # Running
//
//	w, err := inbox.NewWorker(inbox.Config{
//		DB: db, Redis: asynq.RedisClientOpt{Addr: "127.0.0.1:6379"},
//		Domains: []*activity.Domain{issues},
//		Inboxes: []inbox.Inbox{notifications, mailer, audit},
//		Queues:  map[string]int{"tidings": 6, "email": 3},
//	})
//	err = w.Run(ctx) // until ctx is done, then a graceful shutdown
//
// The worker wires an asynq server, a relay, and a handler that finds the
// inbox from the task type ("tidings:" + name), loads the event and runs the
// inbox inside middleware: Logging (log/slog), Metrics, Config.Middleware,
// then Recover. Queues are served with the priorities of Config.Queues (a
// queue an inbox uses but Queues does not list gets 1); give slow or
// rate-limited inboxes their own queue. asynq polls an idle queue; a
// worker running its relay polls it only for a second after a wake-up
// (its relay enqueued, an outbox notification, a retry came due), every
// TaskCheckInterval (5ms here instead of asynq's 1s, which would add half
// a second on average to each delivery), and otherwise waits for the next
// wake-up or IdleCheckInterval (1s): an idle worker costs about 0.5% of a
// core instead of 4-8% (see Config for the measurements).
// Shutdown stops the relay, lets running jobs finish for ShutdownTimeout,
// and hands the others back to the queue for the next worker. A job
// waiting for its turn (a Slack post waiting for its thread's) hears of the
// stop at once (Stopping) and goes back to the queue quietly (Stopped),
// without spending an attempt.
//
// # The relay
//
// A relay (one per worker, or NewRelay on its own) claims up to BatchSize
// outbox rows per transaction, enqueues their jobs from EnqueueConcurrency
// goroutines (asynq's client has no pipelining), and deletes the rows whose
// jobs were all enqueued (asynq.ErrTaskIDConflict counts as enqueued),
// recording their jobs in inbox_pending in the same statement (see "Redis
// durability"). Once an enqueue to a queue failed, the batch's other jobs
// for that queue fail at once (a Redis Cluster node down does not hold the
// batch).
// Rows whose enqueue failed stay, with attempts, last_error and a backoff
// (MinBackoff doubling to MaxBackoff); when a whole batch fails (Redis down)
// the relay pauses as long. A dedicated LISTEN connection on
// activity.OutboxChannel wakes it right after each commit; it polls every
// ListeningPollInterval (5s) while that connection is up, every
// PollInterval (1s) while it is down, and reconnects it.
// Any number of relays can run against one database: SKIP LOCKED gives each
// its own rows, the task ID dedupes the rest. A relay holds one batch in
// memory, so a backlog of millions of rows drains in flat memory.
//
// # Outages
//
// Retries by time: Policy.RetryWindow retries a failing delivery, with
// Policy.Backoff per counted failure (capped exponential with jitter),
// until the window has passed since its first counted failure (kept in its
// inbox_pending row); then it becomes a dead letter (a *WindowError). The
// channel inboxes default to EmailRetryWindow (24h), ChatRetryWindow (4h)
// and InAppRetryWindow (15 minutes). An error asking for RetryAfter (a
// greylisting 451, a 429) waits that long.
//
// Circuit breakers: an inbox that names its outside service
// (InboxWithSink: "smtp://host:port", "slack:host/…") gets a breaker for
// it. An error wrapped with Unreachable(sink, err) (no answer at all:
// refused connection, timeout, 421) counts; after BreakerConfig.Failures
// in a row the breaker opens and the sink's deliveries are held: not run,
// retried at the probe time, spending no window and never dead-lettered.
// After OpenFor one delivery probes (half-open): any answer closes the
// breaker, a transport failure opens it again for twice as long, up to
// MaxOpenFor (defaults 10s and 30s). Held is not failed: a held attempt,
// or a transport failure, is retried at the sink's next probe time, never
// after the inbox's Backoff (which asynq's count of held attempts would
// grow). When a probe succeeds the worker releases at once every job held
// for the sink, and notes in Redis (SinksKey) that it answers, so the other
// workers close their breakers for it: held deliveries go within one probe
// interval of the sink's return. Worker.Breakers returns each sink's
// BreakerState (for a health endpoint, the demo's Queues page);
// OnBreakerChange and the logs report transitions. Breakers are per worker
// process.
//
// Per-recipient outcomes: Delivery.SendTo records a recipient the sink
// refused for good (a Permanent error) as StatusRefused in the ledger,
// never tried again for that delivery, and lets the job go on with the
// others. The suppression list (inbox_suppressions: Suppress, Unsuppress,
// Suppressed, ListSuppressions) holds addresses no send may go to, per
// channel: hard bounces (the email inbox adds them), complaints, manual
// entries; every send checks it.
//
// Sharing Redis: Config.App namespaces queues and task IDs (AppQueue,
// AppTaskID), so several apps share one Redis database (a Redis Cluster
// has only database 0). A job a worker cannot handle (another app's, an
// inbox it does not have) is logged once per queue and kind.
//
// Redis Cluster: RedisClusterOpt reloads the slot map every second, so
// deliveries resume within seconds of a failover (asynq's own option keeps
// go-redis's 60s). Policy.Shards spreads an inbox over several queues so
// that the cluster's masters share its work. ParseRedis reads "host:port",
// redis:// URLs and "cluster://h1:7000,h2:7001".
//
// # Dead letters
//
// A job that fails permanently or runs out of retries is archived by asynq
// and recorded in inbox_dead_letters with its inbox, event, action, attempts
// and last error. Worker.DeadLetters (or NewDeadLetters in a tool) lists
// them newest first with keyset paging, and re-drives one (Redrive) or all
// that a query selects (RedriveAll) once the cause is fixed: the archived
// task runs again (one more attempt), or, if asynq no longer has it, a new
// task with the same ID and the inbox's full retries. A re-driven job that
// fails again reopens its letter. A letter whose job later succeeds
// (asynq's "Run now" on the archived task, a re-drive) gets DeliveredAt and
// leaves the open list; a re-driven job is tracked in inbox_pending until
// done. asynq archives one kind of job without telling the worker (a last
// attempt lost with its worker, whose lease ran out): ImportArchived adds
// those from asynq's archive.
//
// # Outcomes, metrics and tracing
//
// Every attempt ends in one Outcome (OutcomeOf): done, suppressed (Process
// returned nil after Delivery.Suppress: nobody to tell, or all muted it),
// retried, held (an error wrapping ErrHeld: a circuit breaker held it back;
// retried) or dead (permanent, or the last attempt). Worker.Metrics counts
// them per inbox; package observe exports those counters to Prometheus and
// adds Middleware for delivery latency and for a span per attempt, a child
// of the span that recorded the event (its activity.Metadata.TraceParent,
// carried with the event in the job). Middleware can wrap each external
// send of an attempt (Delivery.Send) with Delivery.OnSend.
// # Backfills
//
// An inbox added later never saw the events before it; a Backfiller hands
// them over: the events of one domain selected by actions, time range,
// subjects or correlation id, to one named inbox and no other, as the jobs
// a live delivery would be (same task type and ID). Each batch is read,
// enqueued and checkpointed in one transaction on the backfill's row in
// inbox_backfills, so a run killed mid-way resumes from its last batch,
// and the jobs of the batch in flight are deduplicated by task ID and by
// the ledger (a second backfill of the same events applies nothing twice
// for an inbox that uses Once or Send). Rate caps events per second;
// progress (done of total, rate, ETA) is stored with each batch, logged,
// and shown by cmd/tidings-backfill. A backfill holds one batch in memory
// at a time, whatever its size: its jobs say they come from a backfill,
// so the worker keeps nothing for them once they ran (they have no
// inbox_pending row to delete), and the process's memory stays flat (see
// cmd/bench's backfill group: 1,000,000 events against 100,000). While a
// backfill's job runs, and only then, the worker gives it an
// inbox_pending row (inserted before it loads its event, deleted when the
// attempt is over), so that privacy.EraseSettled waits for a job that
// loaded the person's event before the erasure and erases what it wrote.
//
//	bf, _ := inbox.NewBackfiller(inbox.BackfillConfig{DB: db, Redis: redis, Domains: domains, Inboxes: inboxes})
//	b, _ := bf.Create(ctx, inbox.BackfillSpec{Inbox: "warehouse", Query: inbox.BackfillQuery{Domain: "issue"}, Rate: 500})
//	b, err := bf.Run(ctx, b.ID) // again after a crash: it resumes
//
// # Corrections
//
// Delivered lists the effects the ledger holds for events (mail, Slack,
// webhooks, notifications): after a retraction (activity.Domain.Retract),
// what went out already and is not undone.
//
// # Preferences
//
// notification_preferences holds per-recipient mutes per channel ("app",
// "email", "slack", or "*") and domain and action (or "*"); the most
// specific choice wins. Channel inboxes filter their recipients with
// Recipients (which also drops the actor and duplicates) or Unmuted; users
// set them with Mute, Unmute and SetPreference. A row whose action is
// SubjectAction(id) is about one subject and is the most specific of all.
//
// Defaults is what the app decides before anyone chooses: kinds that are
// off until a person turns them on, and critical kinds nobody can mute
// (Defaults.Set refuses with a *CriticalError; Defaults.Wanted ignores
// mutes for them). Give the channel inboxes the app's Defaults
// (notify.Config.Defaults, email.InboxConfig.Defaults) and the same value to
// the preference page (package web/preferences).
//
// Besides on or off, a person chooses how a kind reaches them on a channel
// (a Choice): Immediate, Batched on a Schedule (a fixed window from the
// first event, Hourly, Daily at a local time, Weekly, on the clock of
// their Profile's Location), or Off (a mute). Defaults.SetChoice stores it
// in notification_delivery (migration 00018), Defaults.Delivery gives the
// app's defaults, and Defaults.Choices answers for many recipients at once;
// critical kinds are always Immediate. Choices belong to the context's
// tenant like preferences (migration 00019): Recipient TenantDefault is
// the tenant's default choice, which a person's own overrides, and which
// overrides Defaults.Delivery. Channel inboxes with batching on
// hand batched events to package inbox/batch; Config.Tasks lets the worker
// serve that package's scheduled flushes.
//
// # Tables
//
// The migrations package creates inbox_deliveries (the ledger),
// inbox_dead_letters and notification_preferences (00002_inbox.sql) and
// notifications (00003_notifications.sql, package notify), and
// inbox_backfills (00006_history.sql). Ledger.PruneAllTenants
// deletes old ledger rows: keep them longer than jobs can be re-driven.
//
// # Testing
//
// Package inboxtest runs an inbox synchronously on an event, and checks
// that recording an event enqueued a job for an inbox.
package inbox
