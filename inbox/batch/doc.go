// Package batch is the batching step any inbox can use: it gathers a
// recipient's events into a window per (inbox, recipient, batch key) and,
// when the window closes, hands all of them to the channel in one delivery
// (one digest mail, one Slack message).
//
// A window opens on its first event (Add, called inside the delivery's
// ledger transaction, so an event joins exactly one window once) and
// closes on its inbox.Schedule: a fixed window from the first event, or
// hourly, daily at a time, weekly, on the recipient's clock. Reaching
// Config.MaxItems seals the window early ('full'): it is due at once, and
// the next event opens a new window.
//
// Windows live in PostgreSQL (batch_windows, batch_items): a worker that
// dies while a window is open loses nothing. Flush claims due windows by a
// state transition (open or full -> sending) under FOR UPDATE SKIP LOCKED,
// so any number of flushers, in any number of processes, deliver each
// window once; a window whose flusher died is taken over after
// Config.ClaimTimeout (the one case where a channel may see a window
// twice: Batch.ID and the item set are the same, so a channel can dedupe,
// as email does with a Message-ID derived from them).
//
// Flush is triggered two ways: a Scheduler (AsynqScheduler: one asynq task
// per window at its due time, with a stable task ID, served by Handler)
// and a periodic sweep (Batcher.Run, or Flush from a cron job) as the
// safety net for a task lost with Redis.
//
// Outages: a window goes through the circuit breaker of its sink that the
// sink's single deliveries go through (Config.Breaker, the worker's
// inbox.Worker.SinkBreaker; a tidings.Client wires it, else call
// UseWorkerBreakers). While the breaker is open a due window is held: not
// delivered, no attempt spent, due again at the breaker's next probe
// (scheduled then by a Retrier such as AsynqScheduler); a transport
// failure is retried at that probe too, never after a Backoff grown by the
// outage; a probe that finds the sink answering, the worker's or a
// flush's, flushes every window held for it at once. A sink that refuses
// the configuration (inbox.MisconfiguredError) fails the window at once,
// saying why, and the breaker records the reason for health checks.
//
// At flush time Config.Wanted drops the items the recipient muted while
// the window was open; a window left empty is 'dropped'.
//
// Tenants: a window belongs to the tenant of its events
// (activity.Event.TenantID, batch_windows.tenant_id, migration 00019), and
// the open-window key is (inbox, tenant, recipient, batch key), so the same
// recipient and key in two tenants are two windows, never one. Flush hands
// each window to Wanted and Deliver under its own tenant
// (activity.WithTenant; none for an untenanted window), whatever tenant
// the flusher's context had, so the preferences read at flush time and
// whatever the channel stores are that tenant's.
package batch
