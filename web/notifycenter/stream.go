package notifycenter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// readyWait bounds how long a new stream waits for Redis to confirm its
// subscription before it reads the database anyway (Redis down: the
// stream still works, on its recheck).
const readyWait = 5 * time.Second

// stream serves GET {prefix}/stream: server-sent events for the
// recipient in the request's tenant (inbox.TenantOf its context, set by
// the app's middleware such as activity.Middleware): that (tenant,
// recipient) stream's notifications, counts and head, woken by its
// channel only (Announcer.Channel).
//
//	event: notification   id: its Seq   data: an Item
//	event: counts                       data: notify.Counts
//
// A new stream (no Last-Event-ID) starts at the recipient's head: it sends
// the counts, with the head as its id. A reconnecting one (the browser's
// EventSource sends the last id it saw as Last-Event-ID; ?last_event_id=
// does the same for clients that cannot set headers) first sends every
// notification after that id, in order, then the counts (an id above the
// stream's head, from an older numbering, restarts it at the head). Seq
// numbers commit in order per (tenant, recipient) stream, so nothing is
// skipped however the worker's deliveries interleave.
func (c *Center) stream(w http.ResponseWriter, r *http.Request, recipient string) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		c.refuse(w, r, http.StatusInternalServerError, "internal", "notifycenter.error.no_stream")
		return
	}
	last := int64(-1)
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	if lastID != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(lastID), 10, 64)
		if err != nil || n < 0 {
			c.refuse(w, r, http.StatusBadRequest, "bad_request", "notifycenter.error.last_event_id")
			return
		}
		last = n
	}
	ctx := r.Context()
	if c.cfg.StreamOpened != nil {
		defer c.cfg.StreamOpened()()
	}
	tenant := inbox.TenantOf(ctx)
	ch := c.announcer.Channel(tenant, recipient)
	l, ready := c.hub.join(ctx, ch)
	defer c.hub.leave(ch, l)
	t := time.NewTimer(readyWait)
	select {
	case <-ready:
	case <-t.C:
		c.cfg.Logger.WarnContext(ctx, "notifycenter: Redis did not confirm the subscription; the stream relies on its recheck", "recipient", recipient, "tenant", tenant)
	case <-ctx.Done():
		t.Stop()
		return
	}
	t.Stop()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	s := &sse{c: c, w: w, f: flusher, recipient: recipient, last: last, more: l.signal}
	if err := s.catchUp(ctx, true); err != nil {
		s.failed(ctx, err)
		return
	}
	recheck := time.NewTicker(c.cfg.Recheck)
	defer recheck.Stop()
	beat := time.NewTicker(c.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-l.wake:
		case <-recheck.C:
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
			continue
		case <-ctx.Done():
			return
		case <-c.hub.done:
			return
		}
		if err := s.catchUp(ctx, false); err != nil {
			s.failed(ctx, err)
			return
		}
	}
}

// sse is one open stream's state.
type sse struct {
	c         *Center
	w         http.ResponseWriter
	f         http.Flusher
	recipient string
	last      int64 // the last Seq sent; -1 before the first
	counts    notify.Counts
	sent      bool   // counts were sent
	more      func() // wakes the stream again: a long catch-up goes on in batches
}

// catchUp sends what arrived after s.last, then the counts if they
// changed (always on the first call).
func (s *sse) catchUp(ctx context.Context, first bool) error {
	db := s.c.cfg.DB
	if s.last < 0 { // a new stream starts at the head
		counts, err := notify.CountsOf(ctx, db, s.recipient)
		if err != nil {
			return err
		}
		s.last = counts.Head
		return s.sendCounts(counts, true)
	}
	if first && s.last > 0 {
		// A Last-Event-ID above the stream's head is of an older
		// numbering: streams per tenant started anew at migration 00020
		// where a (tenant, recipient) had no notifications left, and an
		// erasure deletes a person's heads. Waiting for Seq to pass it
		// would skip what arrives until then: restart at the head.
		counts, err := notify.CountsOf(ctx, db, s.recipient)
		if err != nil {
			return err
		}
		if counts.Head < s.last {
			s.last = counts.Head
			return s.sendCounts(counts, true)
		}
	}
	// One batch per wake: a client far behind (an old Last-Event-ID) is
	// caught up in batches, between which the stream still notices the
	// client leaving or the server stopping.
	ns, err := notify.Since(ctx, db, s.recipient, s.last, notify.MaxSince)
	if err != nil {
		return err
	}
	items, err := s.c.items(ctx, ns)
	if err != nil {
		return err
	}
	for _, it := range items {
		data, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(s.w, "id: %d\nevent: notification\ndata: %s\n\n", it.Seq, data); err != nil {
			return err
		}
		s.last = it.Seq
	}
	if len(ns) == notify.MaxSince {
		s.more()
	}
	counts, err := notify.CountsOf(ctx, db, s.recipient)
	if err != nil {
		return err
	}
	return s.sendCounts(counts, first)
}

func (s *sse) sendCounts(counts notify.Counts, force bool) error {
	// Sent when anything a client shows moved, the head included: wakes
	// may coalesce, so a count can return to its last sent value while
	// newer notifications arrived meanwhile.
	counts.Head = max(counts.Head, s.last)
	if force || !s.sent || counts.Unread != s.counts.Unread || counts.Unseen != s.counts.Unseen || counts.Head != s.counts.Head {
		data, _ := json.Marshal(counts)
		if _, err := fmt.Fprintf(s.w, "id: %d\nevent: counts\ndata: %s\n\n", s.last, data); err != nil {
			return err
		}
		s.counts, s.sent = counts, true
	}
	s.f.Flush()
	return nil
}

func (s *sse) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the client left
	}
	s.c.cfg.Logger.ErrorContext(ctx, "notifycenter: stream failed; the client reconnects", "recipient", s.recipient, "error", err)
}
