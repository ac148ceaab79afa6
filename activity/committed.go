package activity

import (
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// OnCommitted registers fn to be called after each recording through this
// Domain value that committed on its own: a RecordEvent (not throttled)
// or a RecordEvents of at least one event on a connection pool. A
// recording inside the caller's transaction does not call it (its commit
// is the caller's, later or never); nor does a refused one. fn runs in the
// recording's goroutine after the commit, before RecordEvent returns: it
// must not block (a relay's Wake is a non-blocking send). remove
// unregisters it.
//
// It is how a relay in the recording process learns of its own process's
// events at once, with nothing sent to PostgreSQL: inbox.Relay registers
// its Wake on each of RelayConfig.Domains while it runs. Other processes'
// relays still learn through the rate-limited wake-up (see WakeInterval)
// and their polls. A recording costs one atomic load when nothing is
// registered.
func (d *Domain) OnCommitted(fn func()) (remove func()) {
	return d.committed.add(fn)
}

// committedHooks are a Domain's OnCommitted functions: copied on write, so
// that a recording reads them with one atomic load.
type committedHooks struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*func()]
}

func (h *committedHooks) add(fn func()) (remove func()) {
	p := &fn
	h.mu.Lock()
	defer h.mu.Unlock()
	var cur []*func()
	if l := h.list.Load(); l != nil {
		cur = *l
	}
	next := append(append(make([]*func(), 0, len(cur)+1), cur...), p)
	h.list.Store(&next)
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			cur := *h.list.Load()
			next := make([]*func(), 0, len(cur))
			for _, q := range cur {
				if q != p {
					next = append(next, q)
				}
			}
			h.list.Store(&next)
		})
	}
}

// fire calls the hooks after a recording on db committed, unless db is a
// transaction.
func (h *committedHooks) fire(db *gorm.DB) {
	l := h.list.Load()
	if l == nil || len(*l) == 0 {
		return
	}
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return
	}
	for _, fn := range *l {
		(*fn)()
	}
}
