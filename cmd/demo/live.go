package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/workflow"
)

// hub tells open pages that notifications changed: the notify inbox's
// deliveries (through a worker middleware) and marking read publish, and
// each server-sent-events stream re-counts its user's unread
// notifications. It is in-process, as the demo runs web and worker in one.
type hub struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every publish
}

func newHub() *hub { return &hub{changed: make(chan struct{})} }

// wait returns a channel closed at the next publish.
func (h *hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

func (h *hub) publish() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// middleware publishes after each successful delivery of the notify inbox
// and the workflow engine (whose actions change issues).
func (h *hub) middleware(next inbox.ProcessFunc) inbox.ProcessFunc {
	return func(ctx context.Context, d *inbox.Delivery) error {
		err := next(ctx, d)
		if err == nil && (d.Inbox == inboxNotify || d.Inbox == workflow.DefaultEngineName) {
			h.publish()
		}
		return err
	}
}

// streamRecheck is how often a stream re-counts without being told: the
// safety net for notifications written by another process.
const streamRecheck = 15 * time.Second

// notificationStream sends the current user's unread count as server-sent
// events ("event: unread"), now and whenever it changes.
func (a *App) notificationStream(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	flusher, ok := w.(http.Flusher)
	if me == nil || !ok {
		http.Error(w, "streaming is not available", http.StatusInternalServerError)
		return
	}
	defer a.tel.metrics.PushConnected()()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	recipient := strconv.FormatInt(me.ID, 10)
	last := int64(-1)
	tick := time.NewTicker(streamRecheck)
	defer tick.Stop()
	fmt.Fprintf(w, "retry: 2000\n\n")
	for {
		changed := a.live.wait() // before counting, so no change is missed
		n, err := notify.UnreadCount(r.Context(), a.db, recipient)
		if err != nil {
			if r.Context().Err() == nil {
				a.cfg.Log("notification stream: %v", err)
			}
			return
		}
		if n != last {
			fmt.Fprintf(w, "event: unread\ndata: %d\n\n", n)
			flusher.Flush()
			last = n
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-a.stopping:
			return
		}
	}
}
