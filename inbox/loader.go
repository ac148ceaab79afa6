package inbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// loader loads the events of concurrent jobs in batches: a job asks for its
// event; if no load is running, it runs one at once for everything asked
// so far; while one runs, requests queue up and go together in the next.
// On a quiet system each job loads alone, with no added wait; under load,
// one query serves many jobs (and both inboxes of one event).
type loader struct {
	db      *gorm.DB
	domains map[string]*activity.Domain

	mu      sync.Mutex
	pending map[activity.EventRef][]chan loaded
	running bool
}

type loaded struct {
	ev  activity.Event
	err error
}

func newLoader(db *gorm.DB, domains map[string]*activity.Domain) *loader {
	return &loader{db: db, domains: domains, pending: map[activity.EventRef][]chan loaded{}}
}

// load returns ref's event, or an error wrapping activity.ErrEventNotFound.
func (l *loader) load(ctx context.Context, ref activity.EventRef) (activity.Event, error) {
	ch := make(chan loaded, 1)
	l.mu.Lock()
	l.pending[ref] = append(l.pending[ref], ch)
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
		l.pending = make(map[activity.EventRef][]chan loaded, len(batch))
		l.mu.Unlock()
		l.loadBatch(batch)
	}
}

func (l *loader) loadBatch(batch map[activity.EventRef][]chan loaded) {
	byDomain := map[string][]int64{}
	for ref := range batch {
		byDomain[ref.Domain] = append(byDomain[ref.Domain], ref.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
			for _, ch := range batch[ref] {
				ch <- r
			}
		}
	}
}
