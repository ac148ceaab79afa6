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
// anew. So the fan-out of one event to n inboxes costs one lookup, not n.
//
// Under load the loader also reads ahead, as a file system does on a
// sequential read: the relay hands events out in id order, so the jobs
// that follow a batch are mostly for the next ids of its domain. While
// batches hold several jobs, or jobs keep finding their event read ahead,
// a batch's query also asks for the next ids after its highest (from
// minAhead, doubling up to maxAhead); each event found that the relay
// handed out already (an inbox_pending row: see relayedOnly) and that some
// of the worker's inboxes take is kept for those inboxes' first attempts,
// as a sibling's load is. A quiet worker (one job per batch, nothing read ahead
// used) reads no further than its jobs. A backlog drains with a query per
// few dozen events instead of one per two or three.
//
// No copy outlives shareFor: kept events are dropped when their jobs have
// taken them, and a timer drops the expired ones even when no job comes.
// Forget drops them all at once.
type loader struct {
	db      *gorm.DB
	domains map[string]*activity.Domain
	now     func() time.Time
	keep    time.Duration // how long an event is kept for jobs to come: shareFor

	mu         sync.Mutex
	pending    map[activity.EventRef]*request
	inflight   map[activity.EventRef]*request // the batch being loaded
	running    bool
	shared     map[activity.EventRef]*sharedEvent
	swept      time.Time // when shared was last swept of expired events
	sweeper    *time.Timer
	afterSweep func(kept int)        // called after each timed sweep (tests)
	ahead      map[string]*readAhead // by domain
	// takers is, by domain and action, how many of the worker's inboxes
	// take such an event, as its jobs said (siblings + 1): how many first
	// attempts an event read ahead is kept for. An action no job has
	// asked for yet is not kept.
	takers map[takerKey]int
	stats  loaderStats
}

type takerKey struct{ domain, action string }

// readAhead is a domain's read-ahead: how many ids after a batch's
// highest the next batch asks for, and how many events read ahead jobs
// took since the last batch. The window grows to twice what was taken
// (minAhead to maxAhead): where the worker's jobs are a few of the
// domain's events (other actions recorded at full speed), it stays small
// and reads little it does not keep.
type readAhead struct {
	n, hits int
}

// loaderStats counts the loader's work (for tests and the bench's notes).
type loaderStats struct {
	Queries, Loaded, ReadAhead, Hits int
}

// request is the jobs waiting for one event in the next batch.
type request struct {
	waiters  []waiter
	siblings int // the most sibling jobs any waiter expects
}

// waiter is a job waiting for its event; a retry (fresh) takes no copy.
type waiter struct {
	ch    chan loaded
	fresh bool
}

// sharedEvent is an event loaded for one job, kept for its siblings, or
// read ahead for the jobs to come.
type sharedEvent struct {
	ev    activity.Event
	left  int
	until time.Time
	ahead bool // read ahead, not asked for
	taken bool // by a job already
}

// aheadEvent is an event read ahead.
type aheadEvent struct {
	ref activity.EventRef
	ev  activity.Event
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
	// minAhead and maxAhead bound the ids a batch reads ahead, once
	// reading ahead pays.
	minAhead = 16
	maxAhead = 128
)

func newLoader(db *gorm.DB, domains map[string]*activity.Domain) *loader {
	return &loader{db: db, domains: domains, now: time.Now, keep: shareFor, pending: map[activity.EventRef]*request{},
		shared: map[activity.EventRef]*sharedEvent{}, ahead: map[string]*readAhead{}, takers: map[takerKey]int{}}
}

// take returns ref's kept event, if there is one still fresh, counting
// the job that takes it. l.mu is held.
func (l *loader) take(ref activity.EventRef) (activity.Event, bool) {
	s := l.shared[ref]
	if s == nil {
		return activity.Event{}, false
	}
	fresh := !l.now().After(s.until)
	if s.left--; s.left <= 0 || !fresh {
		delete(l.shared, ref)
	}
	if !fresh {
		return activity.Event{}, false
	}
	if s.ahead {
		l.stats.Hits++
		if a := l.ahead[ref.Domain]; a != nil && !s.taken {
			a.hits++
		}
		s.taken = true
	}
	return s.ev, true
}

// Forget drops every event kept for jobs to come.
func (l *loader) Forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.shared)
}

// load returns ref's event, or an error wrapping activity.ErrEventNotFound.
// action is the event's, as the job names it; siblings is how many other
// jobs of the worker's first attempts will ask for the same event (other
// inboxes taking it); fresh skips the events kept for siblings (a retry).
func (l *loader) load(ctx context.Context, ref activity.EventRef, action string, siblings int, fresh bool) (activity.Event, error) {
	ch := make(chan loaded, 1)
	l.mu.Lock()
	if k := (takerKey{ref.Domain, action}); l.takers[k] < siblings+1 {
		if len(l.takers) < maxShared || l.takers[k] > 0 {
			l.takers[k] = siblings + 1
		}
	}
	if !fresh {
		if ev, ok := l.take(ref); ok {
			l.mu.Unlock()
			return ev, nil
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
	r.waiters = append(r.waiters, waiter{ch, fresh})
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
		// Jobs that queued while the previous batch loaded may find
		// their events read ahead by it.
		for ref, r := range batch {
			if l.shared[ref] == nil {
				continue
			}
			left := r.waiters[:0]
			for _, w := range r.waiters {
				if !w.fresh {
					if ev, ok := l.take(ref); ok {
						w.ch <- loaded{ev: ev}
						continue
					}
				}
				left = append(left, w)
			}
			if r.waiters = left; len(left) == 0 {
				delete(batch, ref)
			}
		}
		l.inflight = batch
		byDomain, ahead := l.plan(batch)
		l.mu.Unlock()
		l.loadBatch(batch, byDomain, ahead)
	}
}

// plan lists the ids of batch's events by domain, and the ids read ahead
// (see loader). l.mu is held.
func (l *loader) plan(batch map[activity.EventRef]*request) (byDomain map[string][]int64, ahead map[activity.EventRef]bool) {
	byDomain = map[string][]int64{}
	for ref := range batch {
		byDomain[ref.Domain] = append(byDomain[ref.Domain], ref.ID)
	}
	for name, ids := range byDomain {
		a := l.ahead[name]
		if a == nil {
			a = &readAhead{}
			l.ahead[name] = a
		}
		if len(ids) > 1 || a.hits > 0 {
			a.n = min(max(2*a.hits, minAhead), maxAhead)
		} else {
			a.n = 0
		}
		a.hits = 0
		if a.n == 0 || len(l.shared) >= maxShared {
			continue
		}
		top := ids[0]
		for _, id := range ids[1:] {
			top = max(top, id)
		}
		for id := top + 1; id <= top+int64(a.n); id++ {
			ref := activity.EventRef{Domain: name, ID: id}
			if l.shared[ref] != nil || batch[ref] != nil || l.pending[ref] != nil {
				continue
			}
			if ahead == nil {
				ahead = map[activity.EventRef]bool{}
			}
			ahead[ref] = true
			ids = append(ids, id)
		}
		byDomain[name] = ids
	}
	return byDomain, ahead
}

// relayedOnly is the condition an event read ahead meets to be kept: a
// delivery of it is pending (an inbox_pending row, by its primary key), so
// the relay committed its jobs. An event still in the outbox is not read
// ahead: privacy's erasure locks the outbox rows of the person's events
// until it commits and counts only the pending deliveries as in flight,
// so a copy read before it and taken by a job the relay hands out after
// it would write the erased data with nothing waiting for it. An event
// with a pending row in the query's snapshot was relayed before an
// erasure running meanwhile listed its deliveries (it waits for the
// relay's batch), and its jobs' first attempts are those deliveries,
// which EraseSettled waits for. (Without inbox_pending rows, a backfill's
// events, whose row exists only while a job's attempt runs (trackBackfill),
// or PendingConfig.Disable, nothing is read ahead.)
const relayedOnly = `EXISTS (SELECT 1 FROM ` + PendingTable + ` p WHERE p.domain = ? AND p.event_id = e.id)`

func (l *loader) loadBatch(batch map[activity.EventRef]*request, byDomain map[string][]int64, ahead map[activity.EventRef]bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := make(map[activity.EventRef]loaded, len(batch))
	var extra []aheadEvent
	queries := 0
	for name, ids := range byDomain {
		var events map[int64]activity.Event
		var err error
		dom := l.domains[name]
		if dom == nil {
			err = fmt.Errorf("inbox: no domain %q", name)
		} else {
			// The jobs' events, and of the ids read ahead those relayed:
			// with an inbox_pending row (see relayedOnly).
			var asked, more []int64
			for _, id := range ids {
				if ahead[activity.EventRef{Domain: name, ID: id}] {
					more = append(more, id)
				} else {
					asked = append(asked, id)
				}
			}
			events, err = dom.EventsByIDAnd(activity.AcrossTenants(ctx), l.db, asked, more, relayedOnly, name)
			queries++
		}
		for _, id := range ids {
			ref := activity.EventRef{Domain: name, ID: id}
			if ahead[ref] {
				if ev, ok := events[id]; ok && err == nil {
					extra = append(extra, aheadEvent{ref, ev})
				}
				continue
			}
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
	l.stats.Queries += queries
	l.stats.Loaded += len(results)
	l.share(results, batch, extra)
	l.mu.Unlock()
	for ref, r := range results {
		for _, w := range batch[ref].waiters {
			w.ch <- r
		}
	}
}

// share keeps the loaded events that siblings not in this batch will ask
// for, and the events read ahead that the worker's inboxes take, dropping
// expired ones. l.mu is held.
func (l *loader) share(results map[activity.EventRef]loaded, batch map[activity.EventRef]*request, extra []aheadEvent) {
	now := l.now()
	if now.Sub(l.swept) >= l.keep {
		l.sweep(now)
	}
	until := now.Add(l.keep)
	for ref, res := range results {
		r := batch[ref]
		if left := r.siblings + 1 - len(r.waiters); res.err == nil && left > 0 && len(l.shared) < maxShared {
			l.shared[ref] = &sharedEvent{ev: res.ev, left: left, until: until}
		}
	}
	for _, x := range extra {
		if left := l.takers[takerKey{x.ref.Domain, x.ev.Action}]; left > 0 && len(l.shared) < maxShared {
			l.shared[x.ref] = &sharedEvent{ev: x.ev, left: left, until: until, ahead: true}
			l.stats.ReadAhead++
		}
	}
	if len(l.shared) > 0 && l.sweeper == nil {
		l.sweeper = time.AfterFunc(l.keep+time.Millisecond, l.sweepTimer)
	}
}

// sweepTimer drops the expired kept events, and comes back when the
// first of those left expires: a worker that goes quiet keeps no copy
// past its time.
func (l *loader) sweepTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	next := l.sweep(now)
	l.sweeper = nil
	if len(l.shared) > 0 {
		l.sweeper = time.AfterFunc(max(next.Sub(now), time.Millisecond), l.sweepTimer)
	}
	if l.afterSweep != nil {
		l.afterSweep(len(l.shared))
	}
}

// sweep drops the expired kept events and returns when the first of those
// left expires. l.mu is held.
func (l *loader) sweep(now time.Time) (next time.Time) {
	l.swept = now
	for ref, s := range l.shared {
		switch {
		case now.After(s.until):
			delete(l.shared, ref)
		case next.IsZero() || s.until.Before(next):
			next = s.until
		}
	}
	return next
}
