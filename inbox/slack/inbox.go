package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// Publisher posts an event to Slack: a *Poster (Web API, bot token,
// threads) or a *WebhookPoster (incoming webhooks, for teams without a bot
// token).
type Publisher interface {
	Post(ctx context.Context, ev activity.Event) (Posted, error)
	Router() *Router
}

// DefaultQueue is the asynq queue of Slack inboxes unless
// InboxConfig.Policy names another: Slack rate-limits, so a backlog of
// posts does not hold up the in-app inbox.
const DefaultQueue = "tidings.slack"

// InboxConfig configures an Inbox. Zero fields take the documented
// defaults.
type InboxConfig struct {
	// Name is the inbox's name. Default "slack". It is part of task IDs and
	// ledger rows: renaming it re-delivers.
	Name string
	// Accepts selects the events to post. Default: the Publisher's
	// Router.Accepts (a Default channel accepts everything). An accepted
	// event that no rule routes (a subject rule for another subject, no
	// Default) is skipped without error.
	Accepts inbox.Filter
	// Publisher posts: NewPoster for a bot token, NewWebhookPoster for
	// incoming webhooks. Required.
	Publisher Publisher
	// Policy is how the worker runs the inbox's jobs. Default: queue
	// DefaultQueue, retried by time for inbox.ChatRetryWindow (4 hours,
	// backoff 5s to 15 minutes) unless MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// Batching, when set, gathers each thread's events (per routed
	// channel and subject) into a window of package inbox/batch and posts
	// one message per window when it closes, listing them. Default nil:
	// one message per event.
	Batching *BatchingConfig
}

// Inbox posts events to Slack: an inbox.Inbox for the worker.
//
// Each event is posted at most once per successful delivery: the ledger
// row (inbox, event) is claimed before the post and marked sent once Slack
// accepted it, so a retried job never re-posts a message Slack already
// accepted (short of the process dying between the two, see
// inbox.Ledger.Send). A 429 returns inbox.RetryAfter with Slack's
// Retry-After, so the worker waits that long, not its backoff. A refusal no
// retry can fix is permanent, and the job goes to the dead letters at
// once: a refusal of the app's configuration (invalid_auth, not_authed,
// account_inactive, token_revoked, channel_not_found, not_in_channel,
// is_archived, missing_scope, a removed webhook) as an
// inbox.MisconfiguredError of the inbox's Sink, its reason a hint of what
// to fix, which the worker's breaker records and health reports; a
// refusal of one message (invalid_blocks, msg_too_long, ...) as
// inbox.Permanent with the hint.
type Inbox struct {
	cfg     InboxConfig
	router  *Router
	batcher *batch.Batcher // with Batching
}

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Publisher == nil || cfg.Publisher.Router() == nil {
		return nil, &inbox.ConfigError{Field: "slack.InboxConfig.Publisher", Reason: "is nil: make one with NewPoster (bot token) or NewWebhookPoster (incoming webhooks)"}
	}
	if cfg.Name == "" {
		cfg.Name = "slack"
	}
	router := cfg.Publisher.Router()
	if cfg.Accepts == nil {
		cfg.Accepts = router.Accepts
	}
	if cfg.Policy.Queue == "" {
		cfg.Policy.Queue = DefaultQueue
	}
	if cfg.Policy.MaxRetry == 0 && cfg.Policy.RetryWindow == 0 {
		cfg.Policy.RetryWindow = inbox.ChatRetryWindow
		if cfg.Policy.Backoff == nil {
			cfg.Policy.Backoff = inbox.ExponentialBackoff(5*time.Second, 15*time.Minute)
		}
	}
	in := &Inbox{cfg: cfg, router: router}
	if cfg.Batching != nil {
		if err := in.newBatcher(); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Name implements inbox.Inbox.
func (in *Inbox) Name() string { return in.cfg.Name }

// Sink implements inbox.InboxWithSink: the Publisher's workspace (or
// webhook host) when it names one, for the worker's circuit breaker.
func (in *Inbox) Sink() string {
	if s, ok := in.cfg.Publisher.(interface{ Sink() string }); ok {
		return s.Sink()
	}
	return ""
}

// Accepts implements inbox.Inbox with InboxConfig.Accepts.
func (in *Inbox) Accepts(domain, action string) bool { return in.cfg.Accepts(domain, action) }

// Policy implements inbox.InboxWithPolicy.
func (in *Inbox) Policy() inbox.Policy { return in.cfg.Policy }

// Process implements inbox.Inbox: it posts the event once.
func (in *Inbox) Process(ctx context.Context, d *inbox.Delivery) error {
	route, ok := in.router.Route(d.Event)
	if !ok {
		return nil
	}
	if in.batcher != nil {
		return in.processBatching(ctx, d, route)
	}
	_, err := d.Send(ctx, "", func(ctx context.Context) error {
		if p, ok := in.cfg.Publisher.(*Poster); ok && p.threads != nil {
			// A reply whose job started first waits for its parent's.
			deadline := time.Now().Add(p.threadWait)
			if err := awaitEarlier(ctx, d, in.cfg.Accepts, deadline); err != nil {
				return in.jobError(err)
			}
			ctx = withThreadDeadline(ctx, deadline)
		}
		posted, err := in.cfg.Publisher.Post(ctx, d.Event)
		if err != nil {
			return in.jobError(err)
		}
		if d.Logger != nil {
			d.Logger.DebugContext(ctx, "slack: posted", "channel", posted.Channel, "ts", posted.TS, "thread_ts", posted.ThreadTS)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("slack inbox %s: %w", in.cfg.Name, err)
	}
	return nil
}

// JobError turns a failed post into what the worker acts on: a
// *RateLimitError becomes inbox.RetryAfter(Slack's delay), a permanent
// error inbox.Permanent with a hint of what to fix, anything else stays
// (retried with the inbox's backoff).
func JobError(err error) error {
	if err == nil {
		return nil
	}
	if d, ok := RetryAfter(err); ok {
		return inbox.RetryAfter(d, err)
	}
	if IsPermanent(err) {
		if h := hint(err); h != "" {
			err = fmt.Errorf("%w: %s", err, h)
		}
		return inbox.Permanent(err)
	}
	return err
}

// hint says what to fix for a permanent error.
func hint(err error) string {
	if errors.Is(err, ErrNoRoute) {
		return "add a routing rule or a Default channel for it"
	}
	var api *APIError
	if !errors.As(err, &api) {
		return ""
	}
	switch api.Code {
	case "channel_not_found":
		return "no channel by that name or ID is visible to the bot: check the routing (RouterConfig) and that the channel exists"
	case "not_in_channel":
		return "the bot is not a member of the channel: invite it (/invite @yourbot) or give it chat:write.public"
	case "is_archived", "channel_is_archived":
		return "the channel is archived: unarchive it or route elsewhere"
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "invalid_token":
		return "the bot token is wrong, revoked or expired: set a valid xoxb- token"
	case "missing_scope", "no_permission", "not_allowed_token_type":
		return "the token lacks a scope: give the app chat:write (and chat:write.public for channels it has not joined)"
	case "no_service", "action_prohibited":
		return "the incoming webhook was removed or disabled: create a new one"
	case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_payload":
		return "the message builder produced a message Slack refuses: fix the BuildFunc for this action"
	}
	if api.Status != 0 {
		return fmt.Sprintf("Slack answered HTTP %d", api.Status)
	}
	return ""
}
