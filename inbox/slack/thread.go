package slack

import (
	"context"
	"sync"
	"time"
)

// ThreadKey names a subject's thread in one routed channel. A subject whose
// events go to two channels has a thread in each.
type ThreadKey struct {
	Domain    string
	SubjectID string
	Route     string // the channel as routed ("#issues"), before Slack resolves it
	// Tenant is the event's tenant ("" when untenanted): two tenants'
	// subjects with the same key have separate threads.
	Tenant string
}

// Thread is the parent message of a subject's thread.
type Thread struct {
	Channel string // the channel ID Slack answered for the parent
	TS      string // the parent's ts; replies carry it as thread_ts
}

// ThreadStore remembers thread parents. Put replaces an existing entry:
// when a parent was deleted, Slack posts the next reply at top level and
// that message becomes the thread's new parent. A store that is also a
// ThreadLocker orders the posts of a thread; without it, two events of a
// subject posted at the same moment can open two threads.
type ThreadStore interface {
	// Get returns the thread of key, and false when there is none yet.
	Get(ctx context.Context, key ThreadKey) (Thread, bool, error)
	// Put records channel and ts as the parent of key's thread.
	Put(ctx context.Context, key ThreadKey, channel, ts string) error
}

// MemoryThreads is a ThreadStore and ThreadLocker in memory, for tests and
// dev mode: it orders the posts of one process only. Its zero value is
// ready to use.
type MemoryThreads struct {
	mu    sync.Mutex
	m     map[ThreadKey]Thread
	locks keyLocks
}

// LockThread implements ThreadLocker within the process; fn gets nil (the
// store's own methods).
func (s *MemoryThreads) LockThread(ctx context.Context, key ThreadKey, eventID int64, wait time.Duration, fn func(ctx context.Context, threads ThreadStore) error) error {
	return s.locks.LockThread(ctx, key, eventID, wait, fn)
}

// Get implements ThreadStore.
func (s *MemoryThreads) Get(_ context.Context, key ThreadKey) (Thread, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[key]
	return t, ok, nil
}

// Put implements ThreadStore.
func (s *MemoryThreads) Put(_ context.Context, key ThreadKey, channel, ts string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[ThreadKey]Thread{}
	}
	s.m[key] = Thread{Channel: channel, TS: ts}
	return nil
}
