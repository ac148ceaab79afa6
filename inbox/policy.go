package inbox

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Policy is how the worker runs one inbox's jobs. Zero fields take the
// documented defaults; an inbox states its own by implementing
// InboxWithPolicy, or by being wrapped with WithPolicy.
type Policy struct {
	// Queue is the asynq queue the inbox's jobs go to. Default
	// DefaultQueue. Give a slow or rate-limited inbox (email, Slack) its
	// own queue so it cannot delay the others, and set its priority in
	// Config.Queues. A task ID is unique within a queue: moving an inbox
	// to another queue while jobs are pending can enqueue an event twice
	// (the ledger still keeps its effects once).
	Queue string
	// MaxRetry is how many times a failed job is retried before it
	// becomes a dead letter. Default DefaultMaxRetry; NoRetry for none.
	MaxRetry int
	// Timeout bounds one attempt: its context is cancelled after it.
	// Default DefaultTimeout.
	Timeout time.Duration
	// Backoff is the delay before retry n (1 for the first retry), unless
	// the error asks for its own with RetryAfter. Default
	// ExponentialBackoff(time.Second, 10*time.Minute).
	Backoff Backoff
	// RetryWindow, when set, retries by time instead of by count: a
	// failing delivery is retried (Backoff per counted failure) until
	// RetryWindow has passed since its first counted failure, then it
	// becomes a dead letter. Attempts held by an open circuit breaker, and
	// transport failures of an inbox with a sink (the breaker's business),
	// do not count. MaxRetry then defaults to WindowMaxRetry, a safety
	// net. See retrywindow.go; channel inboxes set their own (email 24h,
	// Slack 4h, in-app 15 minutes).
	RetryWindow time.Duration
	// Shards spreads the inbox's jobs over this many queues, Queue + ".0"
	// to Queue + ".<Shards-1>" by event ID, so a Redis Cluster spreads them
	// over its masters (asynq keeps a queue in one hash slot). The worker
	// serves them all. Default 1 (the one queue, Queue). Changing it while
	// jobs are queued can enqueue an event twice (the ledger keeps its
	// effects once).
	Shards int
}

// Policy defaults.
const (
	DefaultQueue    = "tidings"
	DefaultMaxRetry = 10
	DefaultTimeout  = time.Minute
	// NoRetry as Policy.MaxRetry makes the first failure final.
	NoRetry = -1
)

// Backoff returns the delay before retry n (n >= 1).
type Backoff func(n int) time.Duration

// ExponentialBackoff doubles the delay from lo at each retry up to hi,
// with ±25% jitter so jobs that failed together do not retry together.
func ExponentialBackoff(lo, hi time.Duration) Backoff {
	return func(n int) time.Duration {
		d := lo
		for i := 1; i < n && d < hi; i++ {
			d *= 2
		}
		return time.Duration(float64(min(d, hi)) * (0.75 + rand.Float64()/2))
	}
}

// InboxWithPolicy is an Inbox that states how its jobs run.
type InboxWithPolicy interface {
	Inbox
	Policy() Policy
}

// WithPolicy returns in with policy p. Policy is all it changes: the name,
// the filter and Process are in's.
func WithPolicy(in Inbox, p Policy) Inbox { return &policyInbox{Inbox: in, p: p} }

type policyInbox struct {
	Inbox
	p Policy
}

func (p *policyInbox) Policy() Policy { return p.p }

// Sink passes on the wrapped inbox's sink, if it names one.
func (p *policyInbox) Sink() string {
	if s, ok := p.Inbox.(InboxWithSink); ok {
		return s.Sink()
	}
	return ""
}

// PolicyOf returns in's policy with the defaults filled in.
func PolicyOf(in Inbox) Policy {
	var p Policy
	if ip, ok := in.(InboxWithPolicy); ok {
		p = ip.Policy()
	}
	return p.withDefaults()
}

func (p Policy) withDefaults() Policy {
	if p.Queue == "" {
		p.Queue = DefaultQueue
	}
	switch {
	case p.MaxRetry == 0 && p.RetryWindow > 0:
		p.MaxRetry = WindowMaxRetry
	case p.MaxRetry == 0:
		p.MaxRetry = DefaultMaxRetry
	case p.MaxRetry < 0:
		p.MaxRetry = 0
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Backoff == nil {
		p.Backoff = ExponentialBackoff(time.Second, 10*time.Minute)
	}
	if p.Shards < 1 {
		p.Shards = 1
	}
	return p
}

// QueueFor returns the queue of the job delivering event id.
func (p Policy) QueueFor(id int64) string {
	if p.Shards <= 1 {
		return p.Queue
	}
	return p.Queue + "." + strconv.FormatInt(id%int64(p.Shards), 10)
}

// AllQueues returns every queue the inbox's jobs go to.
func (p Policy) AllQueues() []string {
	if p.Shards <= 1 {
		return []string{p.Queue}
	}
	out := make([]string, p.Shards)
	for i := range out {
		out[i] = p.Queue + "." + strconv.Itoa(i)
	}
	return out
}

func (p Policy) validate(inbox string) error {
	if p.Shards > 256 {
		return &ConfigError{Field: fmt.Sprintf("Policy.Shards of inbox %s", inbox), Reason: fmt.Sprintf("is %d; allowed: 1 to 256", p.Shards)}
	}
	if !nameRE.MatchString(p.Queue) {
		return &ConfigError{Field: fmt.Sprintf("Policy.Queue of inbox %s", inbox), Reason: fmt.Sprintf("%q is not allowed: use 1-64 of a-z 0-9 _ . -, starting with a letter", p.Queue)}
	}
	return nil
}
