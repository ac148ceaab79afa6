package main

import (
	"context"
	"sync"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/workflow"
)

// hub signals, in the worker's process, that the notify inbox or the
// workflow engine finished a delivery (a worker middleware publishes).
// Live pages do not use it (web/notifycenter pushes them across
// processes); tests wait on it instead of sleeping.
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
