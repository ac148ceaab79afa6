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
// being refused by Slack and failing. A 429 blocks the channel until its
// Retry-After is over, for every post of the process: those that reserve
// later, and those already waiting, which look again when their slot
// comes and wait on while a newer 429 extends the block. Safe for
// concurrent use. One Poster has one; with Config.Redis the 429s (not the
// turns) are shared with the other processes' Posters of the workspace,
// which look at them when their turn comes.
type channelLimiter struct {
	interval time.Duration
	maxWait  time.Duration

	mu      sync.Mutex
	next    map[string]time.Time // the channel's next free slot
	blocked map[string]time.Time // until when the channel's last 429 asked to wait
	ids     map[string]string    // a routed name ("#issues") to the ID Slack answered

	shared *sharedBlocks // Config.Redis: other processes' 429s; nil without
}

// key is the channel's ID when an answer told it: a parent is posted to
// the routed name, its replies to the ID, and both take the same turns.
func (l *channelLimiter) key(channel string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id, ok := l.ids[channel]; ok {
		return id
	}
	return channel
}

// names returns channel and every routed name known to stand for it.
func (l *channelLimiter) names(channel string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []string{channel}
	for name, id := range l.ids {
		if id == channel {
			out = append(out, name)
		}
	}
	return out
}

// learn records that Slack answered id for channel.
func (l *channelLimiter) learn(channel, id string) {
	if id == "" || id == channel {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.ids[channel]; ok || len(l.ids) >= 10000 {
		return
	}
	l.ids[channel] = id
	// The turns taken under the name are the ID's from now on.
	for _, m := range []map[string]time.Time{l.next, l.blocked} {
		if t, ok := m[channel]; ok && t.After(m[id]) {
			m[id] = t
		}
	}
}

func newChannelLimiter(interval, maxWait time.Duration) *channelLimiter {
	if interval == 0 {
		interval = DefaultChannelRate
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	return &channelLimiter{interval: interval, maxWait: maxWait, next: map[string]time.Time{}, blocked: map[string]time.Time{}, ids: map[string]string{}}
}

// reserve takes channel's next slot (no earlier than its block) and
// returns it and how long to wait for it. When that is over maxWait
// nothing is reserved and ok is false.
func (l *channelLimiter) reserve(channel string) (at time.Time, wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	at = now
	if b := l.blocked[channel]; b.After(at) {
		at = b
	}
	if n := l.next[channel]; l.interval >= 0 && n.After(at) {
		at = n
	}
	wait = at.Sub(now)
	if wait > l.maxWait {
		return at, wait, false
	}
	if l.interval >= 0 {
		l.next[channel] = at.Add(l.interval)
	}
	if len(l.next)+len(l.blocked) > 10000 { // forget channels idle for a while
		for _, m := range []map[string]time.Time{l.next, l.blocked} {
			for c, t := range m {
				if t.Before(now) {
					delete(m, c)
				}
			}
		}
	}
	return at, wait, true
}

// blockedPast reports whether a 429 seen since the slot at was reserved
// blocks the channel beyond it.
func (l *channelLimiter) blockedPast(channel string, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blocked[channel].After(at)
}

// wait blocks until channel's turn, or returns ctx's error, or, when the
// turn is further than maxWait, returns false and the wait. A 429 that
// arrives while it waits (penalize) and asks for longer than its slot
// makes it take a new slot after the block, and so on until no newer
// Retry-After extends it.
func (l *channelLimiter) wait(ctx context.Context, channel string) (time.Duration, bool, error) {
	for {
		at, d, ok := l.reserve(channel)
		if !ok {
			return d, false, nil
		}
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, false, ctx.Err()
			case <-inbox.Stopping(ctx):
				t.Stop()
				return 0, false, inbox.Stopped("slack: waiting for the turn of channel "+channel, nil)
			case <-t.C:
			}
		}
		if l.blockedPast(channel, at) {
			continue
		}
		if l.shared != nil {
			// Another process's 429: a Redis that does not answer only
			// leaves it to Slack to answer 429 again.
			if d, err := l.shared.blocked(ctx, l.names(channel)); err == nil && d > 0 {
				l.penalize(channel, d)
				continue
			}
		}
		return 0, true, nil
	}
}

// penalize blocks channel until at least now + d (a 429's Retry-After).
func (l *channelLimiter) penalize(channel string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := time.Now().Add(d)
	if at.After(l.blocked[channel]) {
		l.blocked[channel] = at
	}
	if at.After(l.next[channel]) {
		l.next[channel] = at
	}
}

// postPaced posts through the channel's limiter: it waits for the
// channel's turn, and on a 429 waits its Retry-After and tries again, as
// long as each wait is within MaxWait; a longer one is returned as a
// *RateLimitError for the job layer to wait.
func (p *Poster) postPaced(ctx context.Context, channel string, opts []slackapi.MsgOption) (string, string, slackapi.Message, error) {
	for {
		turn := p.limiter.key(channel)
		if d, ok, err := p.limiter.wait(ctx, turn); errors.Is(err, inbox.ErrStopping) {
			return "", "", slackapi.Message{}, err
		} else if err != nil {
			return "", "", slackapi.Message{}, &APIError{Method: "chat.postMessage", Channel: channel, Err: err}
		} else if !ok {
			return "", "", slackapi.Message{}, &RateLimitError{Method: "chat.postMessage", Channel: channel, RetryAfter: d,
				Err: fmt.Errorf("slack: channel %s is busy for another %s (ChannelRate)", channel, d)}
		}
		ch, ts, reply, err := p.api.PostMessageWithResponseContext(ctx, channel, opts...)
		if err == nil {
			p.limiter.learn(channel, ch)
			return ch, ts, reply, nil
		}
		err = classify(err, "chat.postMessage", channel)
		var rl *RateLimitError
		if errors.As(err, &rl) && rl.RetryAfter <= p.limiter.maxWait {
			// Every post of the process to the channel waits it, those
			// already waiting included. A longer one goes back to this
			// job only: the others learn it from their own 429.
			p.limiter.penalize(turn, max(rl.RetryAfter, time.Second))
			if p.limiter.shared != nil {
				_ = p.limiter.shared.block(ctx, []string{turn, channel}, max(rl.RetryAfter, time.Second))
			}
		}
		if rl == nil || rl.RetryAfter > p.limiter.maxWait {
			if !errors.As(err, &rl) && !IsPermanent(err) {
				var api *APIError
				if errors.As(err, &api) && api.Code == "" && (api.Status == 0 || api.Status >= 500) {
					return "", "", slackapi.Message{}, inbox.Unreachable(p.sink, err)
				}
			}
			return "", "", slackapi.Message{}, err
		}
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
