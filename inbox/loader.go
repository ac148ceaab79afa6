package inbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// loader loads the events of jobs as they run, from PostgreSQL (jobs carry
// references only), in batches: a job asks for its event; if no load is
// running, it runs one at once for everything asked so far; while one
// runs, requests queue up and go together in the next. On a quiet system
// each job loads alone, with no added wait; under load, one query serves
// many jobs.
//
// An event that several of the worker's inboxes take is loaded once for
// their first attempts: the first job's load keeps it for the others
// (siblings) for at most shareFor, and each takes it once; a retry loads
// anew. So the fan-out of one event to n inboxes costs one lookup, not n,
// and no copy outlives the moment its jobs run in.
type loader struct {
	db      *gorm.DB
	domains map[string]*activity.Domain
	now     func() time.Time

	mu       sync.Mutex
	pending  map[activity.EventRef]*request
	inflight map[activity.EventRef]*request // the batch being loaded
	running  bool
	shared   map[activity.EventRef]*sharedEvent
	swept    time.Time // when shared was last swept of expired events
}

// request is the jobs waiting for one event in the next batch.
type request struct {
	waiters  []chan loaded
	siblings int // the most sibling jobs any waiter expects
}

// sharedEvent is an event loaded for one job, kept for its siblings.
type sharedEvent struct {
	ev    activity.Event
	left  int
	until time.Time
}

type loaded struct {
	ev  activity.Event
	err error
}

const (
	// shareFor is how long an event loaded for one job waits for its
	// siblings: longer than jobs picked from a queue at once take to
	// start, far shorter than anything an edit or an erasure waits for.
	shareFor = time.Second
	// maxShared caps the events kept for siblings (about a second of
	// deliveries at a high rate); past it, siblings load their own.
	maxShared = 4096
)

func newLoader(db *gorm.DB, domains map[string]*activity.Domain) *loader {
	return &loader{db: db, domains: domains, now: time.Now, pending: map[activity.EventRef]*request{}, shared: map[activity.EventRef]*sharedEvent{}}
}

// load returns ref's event, or an error wrapping activity.ErrEventNotFound.
// siblings is how many other jobs of the worker's first attempts will ask
// for the same event (other inboxes taking it); fresh skips the events
// kept for siblings (a retry).
func (l *loader) load(ctx context.Context, ref activity.EventRef, siblings int, fresh bool) (activity.Event, error) {
	ch := make(chan loaded, 1)
	l.mu.Lock()
	if s := l.shared[ref]; s != nil && !fresh {
		if s.left--; s.left <= 0 || l.now().After(s.until) {
			delete(l.shared, ref)
		}
		if !l.now().After(s.until) {
			l.mu.Unlock()
			return s.ev, nil
		}
	}
	r := l.inflight[ref] // a sibling's load under way serves this job too
	if r == nil {
		r = l.pending[ref]
	}
	if r == nil {
		r = &request{}
		l.pending[ref] = r
	}
	r.waiters = append(r.waiters, ch)
	r.siblings = max(r.siblings, siblings)
	run := !l.running
	l.running = true
	l.mu.Unlock()
	if run {
		go l.run()
	}
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-ctx.Done():
		return activity.Event{}, ctx.Err()
	}
}

// run loads batches until nothing is pending.
func (l *loader) run() {
	for {
		l.mu.Lock()
		batch := l.pending
		if len(batch) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.pending = make(map[activity.EventRef]*request, len(batch))
		l.inflight = batch
		l.mu.Unlock()
		l.loadBatch(batch)
	}
}

func (l *loader) loadBatch(batch map[activity.EventRef]*request) {
	byDomain := map[string][]int64{}
	for ref := range batch {
		byDomain[ref.Domain] = append(byDomain[ref.Domain], ref.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := make(map[activity.EventRef]loaded, len(batch))
	for name, ids := range byDomain {
		var events map[int64]activity.Event
		var err error
		dom := l.domains[name]
		if dom == nil {
			err = fmt.Errorf("inbox: no domain %q", name)
		} else {
			events, err = dom.EventsByID(activity.AcrossTenants(ctx), l.db, ids)
		}
		for _, id := range ids {
			ref := activity.EventRef{Domain: name, ID: id}
			r := loaded{err: err}
			if err == nil {
				ev, ok := events[id]
				if ok {
					r.ev = ev
				} else {
					r.err = fmt.Errorf("%w: %s", activity.ErrEventNotFound, ref)
				}
			}
			results[ref] = r
		}
	}
	l.mu.Lock()
	l.inflight = nil // from here on, the batch's waiters are final
	l.share(results, batch)
	l.mu.Unlock()
	for ref, r := range results {
		for _, ch := range batch[ref].waiters {
			ch <- r
		}
	}
}

// share keeps the loaded events that siblings not in this batch will ask
// for, dropping expired ones (at most every shareFor). l.mu is held.
func (l *loader) share(results map[activity.EventRef]loaded, batch map[activity.EventRef]*request) {
	now := l.now()
	if now.Sub(l.swept) >= shareFor {
		l.swept = now
		for ref, s := range l.shared {
			if now.After(s.until) {
				delete(l.shared, ref)
			}
		}
	}
	for ref, res := range results {
		r := batch[ref]
		if left := r.siblings + 1 - len(r.waiters); res.err == nil && left > 0 && len(l.shared) < maxShared {
			l.shared[ref] = &sharedEvent{ev: res.ev, left: left, until: now.Add(shareFor)}
		}
	}
}
