// Package email renders activity events as mail, delivers them over SMTP,
// and is the email inbox: per-event mails, digests, escalations of unread
// in-app notifications, and one-click unsubscribe.
//
// # The inbox
//
// An Inbox is an inbox.Inbox for the worker:
//
//	mail, err := email.NewInbox(email.InboxConfig{
//		Builder:    builder, // templates, From, unsubscribe links
//		Transport:  sender,  // SMTP
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]email.Recipient, error) {
//			return watchersOf(ctx, db, ev.SubjectID) // the app decides
//		},
//	})
//	worker, err := inbox.NewWorker(inbox.Config{..., Inboxes: []inbox.Inbox{mail}})
//
// For each event it mails the app's recipients minus the actor (a
// recipient whose ID is the actor's, when the actor's type is
// RecipientType, "users"), minus duplicates, minus whoever muted the
// event's action, its whole domain (inbox.AnyAction) or its subject
// (SubjectAction) on the email channel or on every channel
// (notification_preferences, through inbox.Unmuted).
//
// Each (inbox, event, recipient) is a row of the deliveries ledger:
// claimed before the send, marked sent after it. A retried job, a
// re-enqueued one or a re-driven dead letter mails only who was not mailed
// yet; the Message-ID depends only on the event and the recipient, so the
// one duplicate the ledger cannot rule out (the process dying between the
// server's 250 and the mark) is the same mail, which clients collapse. A
// 5xx refusal is permanent: when every failure of a job is, the job is
// inbox.Permanent and not retried; a 4xx, a timeout or a connection error
// is retried with the inbox's backoff. Mail goes to the asynq queue
// DefaultQueue ("tidings.email") unless InboxConfig.Policy says otherwise.
//
// # Digests
//
// With InboxConfig.Digest the inbox mails one digest per recipient per
// period (Hourly, or Daily from midnight to midnight in the recipient's
// Location) listing the period's events. A job only queues: in the
// ledger's transaction it adds the event to the recipient's open window of
// the shared batching step (package inbox/batch: tables batch_windows and
// batch_items, migration 00018; the older email_digests tables are no
// longer written), so a retried job never lists an event twice. The
// windows are flushed by the batch step's scheduler and sweep (Batcher; a
// tidings.Client runs both); Flush also sends the digests left in the old
// tables: it claims the digests whose
// period ended with FOR UPDATE SKIP LOCKED and marks them 'sending'. That
// seals them: an event processed later goes to the next period (the
// queueing upsert locks an open digest's row, so a digest cannot be sealed
// between the check and the insert). A failed digest is retried by a later
// Flush as the same mail: same events, same Message-ID. An event is thus
// listed exactly once: never twice, never dropped.
//
// # Each person's choice (Batching)
//
// With InboxConfig.Batching the inbox honours each recipient's delivery
// choice on its channel (inbox.Defaults.Choices; set with
// inbox.Defaults.SetChoice or the web/preferences page): who chose
// immediate is mailed per event as in the default mode, who chose a
// schedule ("daily@08:00" on their clock) has the event added to their
// window of package inbox/batch, in the ledger's transaction, and gets one
// digest when it closes (BatchingConfig.MaxItems sends a full one early),
// who turned the kind off gets nothing, and critical kinds are always
// immediate. At flush time events the person muted since are left out.
// This is the shared batching step every channel uses; Digest (one period
// for everyone) stays for existing users. With BuilderConfig.Catalog and
// Recipient.Locale digests are worded in the reader's language
// (package inbox/locale), with times in their zone.
//
// asynq's task groups were weighed for this and not used: a group lives
// only in Redis (a flush or failover of Redis loses queued items, while
// here PostgreSQL is the source of truth and Redis only delivers); groups
// close on a grace period or a size, not on calendar periods in each
// recipient's time zone; the aggregated task gets a fresh ID, so the
// ledger could not tie "this event is in that digest" to anything durable;
// and the worker's asynq server would need a group aggregator the inbox
// package does not expose. A table makes queueing transactional with the
// ledger, keeps digests queryable, and lets several flushers share the work.
//
// # Escalations
//
// With InboxConfig.Escalation the inbox mails an event only if its in-app
// notification (package inbox/notify) is still unread after Delay (10
// minutes by default): a job queues one email_escalations row per
// recipient, exactly once; Flush claims the due rows, drops those whose
// notification was read (EscalationConfig.IsRead, by default a look-up in
// the notifications table) or whose mail was muted since, and sends the
// rest as the event's usual mail. A tidings.Client runs that Flush for
// the app: the inbox is an inbox.Periodic, whose task the client schedules
// on its worker every FlushPolicy.Every (default a minute), unique while
// it waits or runs, so no escalation waits for app code. RunFlush stays
// for apps that build their own worker (inbox.NewWorker): they run it (or
// Flush from a cron job or an asynq periodic task), or no escalation is
// ever sent. A table was chosen over a delayed asynq
// task (ProcessIn) for the same reasons: durable, transactional with the
// ledger, and no handler to register outside the inbox worker.
//
// # Held is not failed: Flush's mails and the breaker
//
// The mails Flush sends (escalations, digests left in the old
// email_digests tables) and the batched digests go through the worker's
// circuit breaker of the SMTP server (inbox.Worker.SinkBreaker), the one
// the inbox's single mails go through: Inbox.UseWorkerBreaker gives it to
// them (tidings.NewClient calls it; an app that builds its own worker calls
// it before the worker starts). While the breaker is open a mail is held,
// not attempted: it spends no attempt (FlushPolicy.MaxAttempts) and is put
// off to the breaker's next probe; a server that does not answer puts the
// mail off the same way instead of growing FlushPolicy.Backoff. A probe
// that finds the server answering (a single mail's or a flush's) makes
// every held mail due and flushes it at once, so all of them go within one
// probe interval of the server's return. A refused configuration fails the
// mail at once with its reason, which health reports (see Sending).
// Without UseWorkerBreaker, Flush retries with FlushPolicy.Backoff.
//
// # One-click unsubscribe
//
// An UnsubscribeHandler serves RFC 8058 links: its UnsubscribeURL method is
// the Builder's Unsubscribe function, producing
// https://app/unsubscribe?r=..&c=email&d=issue&a=comment_added&t=<HMAC>, signed
// with HMAC-SHA256 over recipient, channel, domains and action (or
// subject, see Scope). A POST carrying List-Unsubscribe=One-Click writes
// the mute into notification_preferences; a GET only shows a confirmation
// page (html/template) whose button posts, so a link scanner changes
// nothing. A link that does not verify is refused and changes nothing.
// Keys rotate: the first of UnsubscribeConfig.Secrets signs, all verify.
//
// # Templates
//
// Each (domain, action) has a Template: a subject and a plain-text body as
// text/template, an optional HTML body as html/template (escaped in context,
// so a label holding <script> prints as text). Register checks a template by
// executing it against sample data, so a misspelt field fails at start-up:
//
//	tpls := email.NewTemplates(email.TemplatesConfig{})
//	err := tpls.Register("issue", "comment_added", email.Template{
//		Subject: `{{.Actor.Label}} commented on issue {{.Event.SubjectID}}`,
//		Text:    `{{.Field "body"}}`,
//		HTML:    `<p>{{.Field "body"}}</p>`,
//	})
//
// AnyAction registers a domain-wide fallback; DefaultTemplate fits any action.
//
// # Messages
//
// A Builder renders an event for one Recipient into a Message:
//
//   - Message-ID is derived from (domain, event id, recipient), see
//     MessageID: one event never yields two different mails to one person,
//     and a retried job rebuilds the very same mail.
//   - In-Reply-To and References name the subject's stable thread id
//     ("issue-42@host", see ThreadID), so mail clients group a subject's mails.
//   - With BuilderConfig.Unsubscribe set, List-Unsubscribe carries the app's
//     URL and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058).
//   - Header values never carry CR or LF (they become spaces) and what is not
//     ASCII is RFC 2047-encoded, so no label can add a header.
//
// BuildDigest renders one mail listing many events ("5 updates on 2 issues");
// the digest inbox decides which events fall into a period.
//
// # Sending
//
// A Sender delivers a Message with wneessen/go-mail, one connection per
// message, with host, port, AUTH and TLS policy from Config (TLSMandatory by
// default). Failures are *SendError values: a 5xx reply is permanent
// (IsPermanent, errors.Is(err, ErrPermanent)) and the job must not be
// retried; a 4xx reply, a timeout or a connection error is temporary
// (ErrTemporary). Delivery is at least once: a connection lost after the
// server accepted the data but before its reply reached us makes a retry
// send the mail again, with the same Message-ID, which clients collapse.
//
// A server that answers but refuses the configuration is neither an outage
// nor a refused recipient, whether or not the app called Check: TLS
// mandatory and no STARTTLS, a refused login (535), a login required (530),
// a refused sender address (5xx to MAIL FROM), an untrusted certificate.
// Send sets SendError.Misconfigured to the reason (the Misconfigured
// constants); the Inbox fails the job at once as an
// inbox.MisconfiguredError of its sink: one attempt, a dead letter whose
// error gives the reason, the recipient neither refused in the ledger nor
// suppressed (re-drive once fixed), and the worker's breaker for the sink
// records the reason, which health checks (observe.BreakersCheck,
// observe.WorkerBreakersCheck) report as down.
//
// Package smtptest runs a real SMTP server in-process for tests and dev mode.
package email
