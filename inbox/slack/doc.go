// Package slack renders activity events as Slack messages and posts them,
// through slack-go's real client: with a bot token (Poster, Web API
// chat.postMessage) or through incoming webhooks (WebhookPoster).
//
// Its Inbox is the Slack inbox for the worker. The package's name clashes
// with slack-go's, so import it under another:
//
//	import (
//		"github.com/slack-go/slack"
//		slackinbox "github.com/tidingsdev/tidings/inbox/slack"
//	)
//
// # Messages
//
// A BuildFunc renders an event as a Message (Block Kit blocks plus the
// notification text). Builders picks one per (domain, action), falling back
// to DefaultMessage: "*Ana* added a comment on issue 42", the record's
// label, the extra fields and the event's time. Every piece of user text
// goes through Escape (& < > become &amp; &lt; &gt;), so a label or comment
// holding <!channel>, <!here> or <@U123> shows as text and notifies nobody.
// Custom builders must do the same.
//
// # Routing
//
// A Router maps events to channels from configuration (RouterConfig decodes
// from JSON): rules per domain, per action and per subject, the most
// specific match winning (subject over action over domain), and a default
// channel for the rest.
//
// # Threads
//
// With a ThreadStore, a subject's first event in a channel is posted as a
// new message whose ts is stored (GormThreads keeps it in the table
// slack_threads, created by the library's migrations; MemoryThreads in memory); its later events
// reply in that thread with thread_ts. When the parent was deleted, Slack
// posts the reply at top level and it becomes the new parent.
//
// The posts of one thread are ordered, across goroutines and worker
// processes: a store that is a ThreadLocker (GormThreads through
// PostgreSQL advisory locks, MemoryThreads within the process) gives each
// post the thread's turn in the order of the event IDs, so a reply
// recorded a millisecond after its parent waits for the parent's ts and
// goes into its thread, and the parent saved is never overwritten by a
// later top-level post. In the worker, the Inbox also waits for the
// earlier events of the subject that it has still to post (in the outbox,
// or pending and neither sent nor failed), so a reply whose job started
// before its parent's waits for it. A post waits Config.ThreadWait for its turn, then
// goes back to the job layer as a retry (ErrThreadBusy). When the worker
// stops gracefully (inbox.Stopping) a post still waiting for the earlier
// events, its thread's turn or its channel's gives up at once and its job
// goes back to the queue without spending an attempt (inbox.Stopped), so a
// clean stop logs no "Quitting worker" warning; once posting, it finishes.
//
// Posts to one channel wait their turn (Config.ChannelRate); a 429 whose
// Retry-After is within Config.MaxWait blocks the channel for every post
// of the Poster, including those already waiting, which look again when
// their turn comes. With Config.Redis the block is shared with the other
// processes posting to the workspace (a key per channel that lives as
// long as the Retry-After); without it each process learns a 429 from its
// own answers.
//
// # Failures and retries
//
// A failed post is an *APIError or a *RateLimitError and nothing was
// posted. IsPermanent reports errors no retry can fix (channel_not_found,
// invalid_auth, not_in_channel, is_archived, missing_scope, ...); a
// *RateLimitError carries Slack's Retry-After, which the job layer must wait
// before retrying (RetryAfter(err)). The client never retries by itself.
// Once Slack accepted a message, Post returns its Posted (channel and ts)
// and no error; the caller records it in the deliveries ledger so a retried
// job does not post again. Delivery is at least once: a connection lost
// after Slack accepted the message but before its answer arrived looks like
// a temporary failure, and the retry posts a second copy.
//
// # The inbox
//
// An Inbox wraps a Publisher (a *Poster, or a *WebhookPoster for webhook
// mode) as an inbox.Inbox:
//
//	poster, err := slackinbox.NewPoster(slackinbox.Config{Token: token, Router: router, Threads: slackinbox.NewGormThreads(db)})
//	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Publisher: poster})
//
// It accepts what the router can route (Router.Accepts) and posts each
// event once: the deliveries ledger row (inbox, event) is claimed before
// the post and marked sent after Slack accepted it, so a retried or
// re-driven job never re-posts. JobError maps failures for the worker: a
// 429 becomes inbox.RetryAfter with Slack's Retry-After (the worker's
// retry waits exactly that, not its backoff); a refusal of the app's
// configuration (a wrong, revoked or inactive token, a channel that does
// not exist, is archived or lacks the bot, a missing scope, a removed
// incoming webhook) becomes an inbox.MisconfiguredError of the inbox's Sink
// whose reason says what to fix ("invite the bot to the channel"): the job
// goes straight to the dead letters saying so, and the worker's breaker
// records it, so health reports the sink down until a post is accepted
// again; a refusal of one message (invalid_blocks, msg_too_long) becomes
// inbox.Permanent with its hint; anything else is retried with the
// backoff. Jobs go to the asynq queue DefaultQueue
// ("tidings.slack").
//
// Package slacktest serves a fake Slack Web API and webhooks on 127.0.0.1
// for tests and dev mode.
//
// # Batching
//
// With InboxConfig.Batching the inbox posts one message per window per
// thread (routed channel and subject) instead of one per event: events
// gather in a window of package inbox/batch and the message listing them
// goes out when the window closes (BatchingConfig.Schedule, a fixed 10
// minutes by default), in the subject's thread. Nothing is edited while the
// window is open.
package slack
