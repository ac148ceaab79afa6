package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	slackapi "github.com/slack-go/slack"

	"github.com/tidingsdev/tidings/activity"
)

// Posted says where Slack accepted a message. The caller records it (the
// deliveries ledger) before acknowledging the job, so a retried job finds
// it and never posts the same event twice.
type Posted struct {
	Channel  string // the channel ID Slack answered; "" for a webhook
	TS       string // the message's ts; "" for a webhook, which answers none
	ThreadTS string // the parent's ts when the message is a threaded reply
}

// Config configures a Poster.
type Config struct {
	// Token is the bot token ("xoxb-..."). Required.
	Token string
	// APIURL is the Web API base, ending in "/". Default slack-go's
	// (https://slack.com/api/); tests point it at slacktest's APIURL.
	APIURL string
	// HTTPClient makes the calls. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Router picks each event's channel. Required.
	Router *Router
	// Builders renders messages. Default NewBuilders(nil), which renders
	// every event with DefaultMessage.
	Builders *Builders
	// Threads remembers each subject's thread. Optional: without it every
	// event is a top-level message.
	Threads ThreadStore
	// Logger reports what cannot be returned: a thread that could not be
	// saved after Slack accepted its parent. Default slog.Default().
	Logger *slog.Logger
	// ChannelRate spaces posts to one channel at least this far apart,
	// waiting for the channel's turn instead of being refused with a 429.
	// Default DefaultChannelRate (1s, Slack's published limit); -1 turns
	// the limiter off.
	ChannelRate time.Duration
	// MaxWait is how long a post waits in the job for its channel's turn
	// or a 429's Retry-After; a longer wait goes back to the job layer as
	// a retry at that time. Default DefaultMaxWait (10s).
	MaxWait time.Duration
	// Redis, when set, shares each channel's 429 with the other Posters of
	// the workspace (other worker processes) through a key per channel
	// that lives as long as the Retry-After: a post whose turn comes
	// waits it too. Optional: without it a 429 holds only this Poster's
	// posts, and another process learns it from its own 429.
	Redis redis.UniversalClient
	// ThreadWait is how long a post waits in the job for the earlier posts
	// of its thread (the parent's ts, earlier replies; see ThreadLocker
	// and Inbox): a longer wait for its turn goes back to the job layer as
	// a retry a second later, an error matching ErrThreadBusy. Default
	// DefaultThreadWait (30s); with MaxWait and the HTTP timeout it must
	// fit in the job's timeout (inbox.Policy.Timeout, 1 minute).
	ThreadWait time.Duration
}

// Poster posts events through the Slack Web API (chat.postMessage) with a
// bot token, one thread per subject and channel. It is safe for concurrent
// use.
type Poster struct {
	api      *slackapi.Client
	router   *Router
	builders *Builders
	threads  ThreadStore
	log      *slog.Logger
	limiter  *channelLimiter
	sink     string

	threadWait time.Duration
	locks      keyLocks // a thread's turn when Threads is no ThreadLocker
}

// NewPoster checks cfg and returns a Poster. It does not call Slack; use
// AuthTest to check the token at start-up.
func NewPoster(cfg Config) (*Poster, error) {
	if cfg.Token == "" {
		return nil, fmt.Errorf("%w: Config.Token is empty; set the bot token (xoxb-...) or use a WebhookPoster", ErrInvalidConfig)
	}
	if cfg.Router == nil {
		return nil, fmt.Errorf("%w: Config.Router is nil; make one with NewRouter", ErrInvalidConfig)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Builders == nil {
		cfg.Builders = NewBuilders(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ThreadWait <= 0 {
		cfg.ThreadWait = DefaultThreadWait
	}
	opts := []slackapi.Option{slackapi.OptionHTTPClient(cfg.HTTPClient)}
	if cfg.APIURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(cfg.APIURL))
	}
	// No slackapi.OptionRetry: a 429 goes back to the job layer, which waits
	// Retry-After without holding a worker.
	sink := "slack:" + tokenSink(cfg.Token, cfg.APIURL)
	limiter := newChannelLimiter(cfg.ChannelRate, cfg.MaxWait)
	if cfg.Redis != nil {
		limiter.shared = newSharedBlocks(cfg.Redis, sink)
	}
	return &Poster{
		api:      slackapi.New(cfg.Token, opts...),
		router:   cfg.Router,
		builders: cfg.Builders,
		threads:  cfg.Threads,
		log:      cfg.Logger,
		limiter:  limiter,
		sink:     sink,

		threadWait: cfg.ThreadWait,
	}, nil
}

// parentGone reports whether Slack says the thread's parent no longer
// exists (conversations.replies answers thread_not_found). Any other
// answer, an error included, keeps the thread.
func (p *Poster) parentGone(ctx context.Context, channel, ts string) bool {
	_, _, _, err := p.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts, Limit: 1})
	var resp slackapi.SlackErrorResponse
	return errors.As(err, &resp) && (resp.Err == "thread_not_found" || resp.Err == "message_not_found")
}

// Accepts reports whether ev has a channel to go to.
func (p *Poster) Accepts(ev activity.Event) bool {
	_, ok := p.router.Route(ev)
	return ok
}

// Router returns the Poster's router.
func (p *Poster) Router() *Router { return p.router }

// AuthTest checks the token with auth.test.
func (p *Poster) AuthTest(ctx context.Context) error {
	if _, err := p.api.AuthTestContext(ctx); err != nil {
		return classify(err, "auth.test", "")
	}
	return nil
}

// Post renders ev and posts it to its channel: as a reply in the subject's
// thread when one is known, else as a new message that becomes the thread's
// parent.
//
// On failure nothing was accepted and err is an *APIError (IsPermanent
// tells whether to retry) or a *RateLimitError (retry after RetryAfter).
// Once Slack accepted the message Post returns no error, even if the thread
// could not be saved (that is logged, and the next event opens a new
// thread), so that a retry never posts the message twice.
func (p *Poster) Post(ctx context.Context, ev activity.Event) (Posted, error) {
	route, ok := p.router.Route(ev)
	if !ok {
		return Posted{}, &APIError{Method: "chat.postMessage", Permanent: true, Err: fmt.Errorf("%w: %s", ErrNoRoute, ev)}
	}
	msg, err := p.builders.Build(ctx, ev)
	if err != nil {
		return Posted{}, &APIError{Method: "chat.postMessage", Channel: route, Permanent: true, Err: err}
	}
	return p.post(ctx, ev, route, msg)
}

// PostBatch posts msg, which stands for events (a batch of one subject's
// events, see InboxConfig.Batching), as one message in the thread of
// their subject, opening the thread if none is known. Errors are as
// Post's.
func (p *Poster) PostBatch(ctx context.Context, events []activity.Event, msg Message) (Posted, error) {
	if len(events) == 0 {
		return Posted{}, &APIError{Method: "chat.postMessage", Permanent: true, Err: fmt.Errorf("%w: an empty batch", ErrNoRoute)}
	}
	route, ok := p.router.Route(events[0])
	if !ok {
		return Posted{}, &APIError{Method: "chat.postMessage", Permanent: true, Err: fmt.Errorf("%w: %s", ErrNoRoute, events[0])}
	}
	return p.post(ctx, events[0], route, msg)
}

// post posts msg about ev to route, in ev's subject's thread. It takes
// the thread's turn first (ThreadLocker), so the thread is read after the
// earlier posts of the subject saved theirs, and nobody else posts for the
// thread until this post saved its own.
func (p *Poster) post(ctx context.Context, ev activity.Event, route string, msg Message) (Posted, error) {
	key := ThreadKey{Domain: ev.Domain, SubjectID: ev.SubjectID, Route: route, Tenant: ev.TenantID}
	if p.threads == nil {
		return p.postIn(ctx, ev, key, msg, nil)
	}
	locker, ok := p.threads.(ThreadLocker)
	if !ok {
		locker = &p.locks
	}
	var posted Posted
	var accepted bool
	err := locker.LockThread(ctx, key, ev.ID, p.threadWaitFor(ctx), func(ctx context.Context, threads ThreadStore) error {
		if threads == nil {
			threads = p.threads
		}
		var err error
		posted, err = p.postIn(ctx, ev, key, msg, threads)
		accepted = err == nil
		return err
	})
	if accepted {
		if err != nil { // Slack has the message: never fail the job now
			p.log.WarnContext(ctx, "slack: message posted but its thread's turn not closed cleanly; the thread may not be saved",
				"event", ev.String(), "channel", posted.Channel, "ts", posted.TS, "error", err)
		}
		return posted, nil
	}
	return Posted{}, err
}

// postIn posts msg in key's thread as threads knows it (nil: no threads),
// and saves a new parent there.
func (p *Poster) postIn(ctx context.Context, ev activity.Event, key ThreadKey, msg Message, threads ThreadStore) (Posted, error) {
	var err error
	route := key.Route
	var thread Thread
	var inThread bool
	if threads != nil {
		if thread, inThread, err = threads.Get(ctx, key); err != nil {
			return Posted{}, &APIError{Method: "chat.postMessage", Channel: route, Err: err}
		}
	}
	channel := route
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(msg.Text, false)}
	if len(msg.Blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(msg.Blocks...))
	}
	if inThread {
		channel = thread.Channel
		opts = append(opts, slackapi.MsgOptionTS(thread.TS))
	}
	ch, ts, reply, err := p.postPaced(ctx, channel, opts)
	if err != nil {
		return Posted{}, err
	}
	posted := Posted{Channel: ch, TS: ts}
	// The thread is what we asked for, whatever the answer echoes
	// (message.thread_ts is not always in it): a reply never re-parents
	// the subject's thread; only a new parent opens one.
	reparent := !inThread
	if inThread {
		posted.ThreadTS = thread.TS
		// An answer without thread_ts proves nothing (slack-go's own fake
		// never sends it); ask Slack whether the parent is gone, and only
		// then let this message open the thread anew.
		if reply.ThreadTimestamp == "" && p.parentGone(ctx, thread.Channel, thread.TS) {
			posted.ThreadTS, reparent = "", true
		}
	}
	if threads != nil && reparent {
		if err := threads.Put(ctx, key, ch, ts); err != nil {
			p.log.WarnContext(ctx, "slack: message posted but its thread not saved; the next event opens a new thread",
				"event", ev.String(), "channel", ch, "ts", ts, "error", err)
		}
	}
	return posted, nil
}
