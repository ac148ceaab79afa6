package operations

import "maps"

// Messages returns the page's texts in English, by key: what an app's
// locale catalog (Config.Words.Catalog) translates or rewords. Arguments
// are fmt verbs, in the order each comment says.
func Messages() map[string]string { return maps.Clone(messages) }

var messages = map[string]string{
	"operations.title":               "Operations",
	"operations.not_found":           "Not found",
	"operations.refused.sign_in":     "Sign in to see the operations page.",
	"operations.refused.admin":       "Only administrators may see the operations page.",
	"operations.missing.job":         "Job %s does not exist.",                      // the job's id
	"operations.missing.dead_letter": "The dead letter of event %s does not exist.", // the event's id
	"operations.notice.ran":          "The job runs again now.",
	"operations.notice.redriven":     "The delivery was enqueued again.",
	"operations.workers":             "Workers",
	"operations.col.worker":          "Worker",
	"operations.col.relay":           "Relay",
	"operations.col.relayed":         "Outbox rows relayed",
	"operations.col.enqueued":        "Jobs enqueued",
	"operations.col.enqueue_failed":  "Enqueues failed",
	"operations.col.found_again":     "Lost jobs found again",
	"operations.col.heard":           "Last heard",
	"operations.relay.up":            "LISTEN up",
	"operations.relay.down":          "LISTEN down (polling)",
	"operations.relay.none":          "no relay",
	"operations.no_worker":           "No worker has reported in the last few seconds: nothing is being delivered.",
	"operations.outbox":              "Outbox: %d events waiting for the relay.",                                  // rows
	"operations.outbox_one":          "Outbox: %d event waiting for the relay.",                                   // rows (1)
	"operations.outbox_oldest":       "Outbox: %d events waiting for the relay, the oldest recorded %s (lag %s).", // rows, how long ago, lag
	"operations.outbox_oldest_one":   "Outbox: %d event waiting for the relay, the oldest recorded %s (lag %s).",  // rows (1), how long ago, lag
	"operations.queues":              "Queues",
	"operations.col.queue":           "Queue",
	"operations.col.size":            "Size",
	"operations.col.pending":         "Pending",
	"operations.col.active":          "Active",
	"operations.col.scheduled":       "Scheduled",
	"operations.col.retry":           "Retry",
	"operations.col.archived":        "Archived",
	"operations.col.completed":       "Completed",
	"operations.col.processed_today": "Processed today",
	"operations.col.failed_today":    "Failed today",
	"operations.no_queues":           "No queues yet.",
	"operations.services":            "Outside services",
	"operations.col.service":         "Service",
	"operations.col.breaker":         "Circuit breaker",
	"operations.col.since":           "Since",
	"operations.col.probe":           "Next probe",
	"operations.col.failures":        "Failures in a row",
	"operations.col.held":            "Held attempts",
	"operations.col.last_error":      "Last error",
	"operations.breaker.closed":      "closed",
	"operations.breaker.open":        "open",
	"operations.breaker.half-open":   "half-open",
	"operations.misconfigured":       "refuses the configuration: %s", // what it refuses
	"operations.no_services":         "No deliveries to an outside service yet.",
	"operations.retrying":            "Retrying",
	"operations.archived":            "Archived (failed for good)",
	"operations.dead_letters":        "Dead letters",
	"operations.col.inbox":           "Inbox",
	"operations.col.event":           "Event",
	"operations.col.attempts":        "Attempts",
	"operations.col.failed":          "Failed",
	"operations.redrive":             "Re-drive",
	"operations.none":                "None.",
	"operations.tenant_note":         "Jobs and dead letters are your organisation's; queue sizes count everyone's.",
	"operations.col.job":             "Job",
	"operations.col.retried":         "Retried",
	"operations.col.next_or_failed":  "Next / failed",
	"operations.event_link":          "event",
	"operations.run_now":             "Run now",
}
