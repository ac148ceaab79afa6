package notifycenter

import (
	"context"
	"errors"
	"log/slog"

	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// hub holds this process's one Redis subscription: a channel per stream
// (tenant, recipient) with an open stream (Announcer.Channel), subscribed
// while the first stream is open and unsubscribed when the last closes. A
// message on a channel wakes that (tenant, recipient)'s streams; a stream then reads what is new
// from PostgreSQL, so a message is only a wake-up and losing one costs
// latency, never a notification.
type hub struct {
	client redis.UniversalClient
	log    *slog.Logger

	mu      sync.Mutex
	ps      *redis.PubSub
	topics  map[string]*topic // by channel
	pending map[string]int    // SUBSCRIBEs sent per channel and not yet confirmed
	closed  bool
	done    chan struct{} // closed by close
	loopEnd chan struct{}
}

type topic struct {
	listeners map[*listener]struct{}
	ready     chan struct{} // closed when the subscription is confirmed
	isReady   bool
}

// listener is one stream's wake-up: a buffered channel of one, so wakes
// coalesce and publishers never block.
type listener struct {
	wake chan struct{}
}

func (l *listener) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func newHub(client redis.UniversalClient, log *slog.Logger) *hub {
	return &hub{client: client, log: log, topics: map[string]*topic{}, pending: map[string]int{}, done: make(chan struct{})}
}

// join adds a listener on channel ch; ready is closed once Redis
// confirmed the subscription (messages published after that reach the
// listener).
func (h *hub) join(ctx context.Context, ch string) (l *listener, ready <-chan struct{}) {
	l = &listener{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		c := make(chan struct{})
		close(c)
		return l, c
	}
	if h.ps == nil {
		h.ps = h.client.Subscribe(context.WithoutCancel(ctx))
		h.loopEnd = make(chan struct{})
		go h.loop(h.ps)
	}
	t := h.topics[ch]
	if t == nil {
		t = &topic{listeners: map[*listener]struct{}{}, ready: make(chan struct{})}
		h.topics[ch] = t
		h.pending[ch]++
		if err := h.ps.Subscribe(context.WithoutCancel(ctx), ch); err != nil {
			// The receive loop reconnects and subscribes again.
			h.log.WarnContext(ctx, "notifycenter: subscribe failed; retrying with the connection", "channel", ch, "error", err)
		}
	}
	t.listeners[l] = struct{}{}
	return l, t.ready
}

// leave removes l from channel ch; the last listener of a channel
// unsubscribes it.
func (h *hub) leave(ch string, l *listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[ch]
	if t == nil {
		return
	}
	delete(t.listeners, l)
	if len(t.listeners) == 0 && !h.closed {
		delete(h.topics, ch)
		if err := h.ps.Unsubscribe(context.Background(), ch); err != nil {
			h.log.Warn("notifycenter: unsubscribe failed", "channel", ch, "error", err)
		}
	}
}

// loop receives until the hub is closed.
func (h *hub) loop(ps *redis.PubSub) {
	defer close(h.loopEnd)
	backoff := 50 * time.Millisecond
	failing := false
	for {
		msg, err := ps.Receive(context.Background())
		if err != nil {
			h.mu.Lock()
			closed := h.closed
			h.mu.Unlock()
			if closed || errors.Is(err, redis.ErrClosed) {
				return
			}
			if !failing {
				h.log.Warn("notifycenter: Redis subscription lost; reconnecting (streams fall back to their recheck)", "error", err)
				failing = true
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-h.done:
				t.Stop()
				return
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Message:
			h.wake(m.Channel)
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if failing {
				h.log.Info("notifycenter: Redis subscription back")
				failing = false
			}
			h.confirmed(m.Channel)
		}
	}
}

func (h *hub) wake(ch string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[ch]; t != nil {
		for l := range t.listeners {
			l.signal()
		}
	}
}

// confirmed handles a subscribe confirmation: the first makes the topic
// ready; one after a reconnect wakes its listeners, which read back what
// they may have missed.
func (h *hub) confirmed(ch string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending[ch] > 0 {
		h.pending[ch]--
	}
	if h.pending[ch] == 0 {
		delete(h.pending, ch)
	}
	t := h.topics[ch]
	if t == nil {
		return
	}
	if !t.isReady {
		if h.pending[ch] == 0 {
			t.isReady = true
			close(t.ready)
		}
		return
	}
	for l := range t.listeners {
		l.signal()
	}
}

// close ends the subscription; streams see done closed and end.
func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	ps, end := h.ps, h.loopEnd
	for _, t := range h.topics {
		if !t.isReady {
			t.isReady = true
			close(t.ready)
		}
	}
	h.mu.Unlock()
	if ps != nil {
		ps.Close()
		<-end
	}
}
