package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tidingsdev/tidings/inbox"
)

// DefaultChannelRate is Slack's published limit for chat.postMessage:
// about one message per second per channel (short bursts are tolerated).
const DefaultChannelRate = time.Second

// DefaultMaxWait is how long a post waits for its channel's turn (or for a
// 429's Retry-After) inside the job before it hands the wait back to the
// job layer as a retry.
const DefaultMaxWait = 10 * time.Second

// channelLimiter spaces posts to one channel at least interval apart:
// each post reserves the channel's next slot and waits for it, instead of
// being refused by Slack and failing. A 429 pushes the channel's next slot
// out by its Retry-After. Safe for concurrent use.
type channelLimiter struct {
	interval time.Duration
	maxWait  time.Duration

	mu   sync.Mutex
	next map[string]time.Time
}

func newChannelLimiter(interval, maxWait time.Duration) *channelLimiter {
	if interval == 0 {
		interval = DefaultChannelRate
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	return &channelLimiter{interval: interval, maxWait: maxWait, next: map[string]time.Time{}}
}

// reserve takes channel's next slot and returns how long to wait for it.
// When that is over maxWait nothing is reserved and ok is false.
func (l *channelLimiter) reserve(channel string) (wait time.Duration, ok bool) {
	if l.interval < 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	at := l.next[channel]
	if at.Before(now) {
		at = now
	}
	wait = at.Sub(now)
	if wait > l.maxWait {
		return wait, false
	}
	l.next[channel] = at.Add(l.interval)
	if len(l.next) > 10000 { // forget channels idle for a while
		for c, t := range l.next {
			if t.Before(now) {
				delete(l.next, c)
			}
		}
	}
	return wait, true
}

// wait blocks until channel's turn, or returns ctx's error, or, when the
// turn is further than maxWait, returns false and the wait.
func (l *channelLimiter) wait(ctx context.Context, channel string) (time.Duration, bool, error) {
	d, ok := l.reserve(channel)
	if !ok {
		return d, false, nil
	}
	if d <= 0 {
		return 0, true, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return 0, false, ctx.Err()
	case <-t.C:
		return 0, true, nil
	}
}

// penalize pushes channel's next slot to at least now + d (a 429).
func (l *channelLimiter) penalize(channel string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at := time.Now().Add(d); at.After(l.next[channel]) {
		l.next[channel] = at
	}
}

// postPaced posts through the channel's limiter: it waits for the
// channel's turn, and on a 429 waits its Retry-After and tries again, as
// long as each wait is within MaxWait; a longer one is returned as a
// *RateLimitError for the job layer to wait.
func (p *Poster) postPaced(ctx context.Context, channel string, opts []slackapi.MsgOption) (string, string, slackapi.Message, error) {
	for {
		if d, ok, err := p.limiter.wait(ctx, channel); err != nil {
			return "", "", slackapi.Message{}, &APIError{Method: "chat.postMessage", Channel: channel, Err: err}
		} else if !ok {
			return "", "", slackapi.Message{}, &RateLimitError{Method: "chat.postMessage", Channel: channel, RetryAfter: d,
				Err: fmt.Errorf("slack: channel %s is busy for another %s (ChannelRate)", channel, d)}
		}
		ch, ts, reply, err := p.api.PostMessageWithResponseContext(ctx, channel, opts...)
		if err == nil {
			return ch, ts, reply, nil
		}
		err = classify(err, "chat.postMessage", channel)
		var rl *RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter > p.limiter.maxWait {
			if !errors.As(err, &rl) && !IsPermanent(err) {
				var api *APIError
				if errors.As(err, &api) && api.Code == "" && (api.Status == 0 || api.Status >= 500) {
					return "", "", slackapi.Message{}, inbox.Unreachable(p.sink, err)
				}
			}
			return "", "", slackapi.Message{}, err
		}
		p.limiter.penalize(channel, max(rl.RetryAfter, time.Second))
	}
}

// Sink names the Slack workspace (token) for the worker's breaker.
func (p *Poster) Sink() string { return p.sink }

// tokenSink identifies a workspace without its secret: the API host and a
// short hash of the token.
func tokenSink(token, apiURL string) string {
	h := sha256.Sum256([]byte(token))
	host := "slack.com"
	if u, err := url.Parse(apiURL); err == nil && u.Host != "" {
		host = u.Host
	}
	return host + "/" + hex.EncodeToString(h[:4])
}
