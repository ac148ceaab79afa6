package slack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// DefaultThreadWait is how long a post waits inside the job for the
// earlier posts of its thread (see ThreadLocker) before the job is retried:
// longer than one post can take (MaxWait for the channel's turn, the HTTP
// timeout, the parent check).
const DefaultThreadWait = 30 * time.Second

// ThreadLocker is a ThreadStore that orders the posts of one thread key, so
// that a reply recorded right after its parent waits for the parent's ts
// and goes into its thread, and replies go in the order of their events.
// The Poster uses it when its Threads store is one (GormThreads and
// MemoryThreads are).
//
// LockThread announces the post of event eventID for key, waits until no
// post of an earlier event (a smaller ID) of key is in flight, then holds
// key against every other post while fn runs: fn reads the thread, posts
// (waiting for the channel's turn) and saves a new parent, and the next
// post of key reads what it saved. fn gets the store to read and write
// the thread with while the lock is held; nil means the locker's own
// methods. When the turn does not come within wait, LockThread returns an
// error matching ErrThreadBusy without calling fn. It returns fn's error
// as it is.
//
// Order holds among posts that announced themselves before the earlier
// one went: an earlier event whose job starts after a later one of its
// thread was posted is posted after it (in the same thread).
type ThreadLocker interface {
	LockThread(ctx context.Context, key ThreadKey, eventID int64, wait time.Duration, fn func(ctx context.Context, threads ThreadStore) error) error
}

// keyLocks orders posts per thread key within one process: MemoryThreads'
// lock, and the Poster's when its store is no ThreadLocker.
type keyLocks struct {
	mu   sync.Mutex
	keys map[ThreadKey]*keyTurn
}

// keyTurn is one key's state: the posts announced and whether one holds
// the key. changed is closed (and replaced) at every release.
type keyTurn struct {
	held    bool
	waiting map[int64]int
	changed chan struct{}
}

func (k *keyLocks) LockThread(ctx context.Context, key ThreadKey, eventID int64, wait time.Duration, fn func(ctx context.Context, threads ThreadStore) error) error {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[ThreadKey]*keyTurn{}
	}
	turn := k.keys[key]
	if turn == nil {
		turn = &keyTurn{waiting: map[int64]int{}, changed: make(chan struct{})}
		k.keys[key] = turn
	}
	turn.waiting[eventID]++
	k.mu.Unlock()

	leave := func(held bool) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if turn.waiting[eventID]--; turn.waiting[eventID] == 0 {
			delete(turn.waiting, eventID)
		}
		if held {
			turn.held = false
		}
		close(turn.changed)
		turn.changed = make(chan struct{})
		if !turn.held && len(turn.waiting) == 0 {
			delete(k.keys, key)
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		k.mu.Lock()
		mine := !turn.held
		for id := range turn.waiting {
			if id < eventID {
				mine = false
			}
		}
		if mine {
			turn.held = true
		}
		changed := turn.changed
		k.mu.Unlock()
		if mine {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			leave(false)
			return &APIError{Method: "chat.postMessage", Channel: key.Route, Err: ctx.Err()}
		case <-inbox.Stopping(ctx):
			leave(false)
			return threadStopped(key)
		case <-timer.C:
			leave(false)
			return threadBusy(key, wait)
		}
	}
	defer leave(true)
	return fn(ctx, nil)
}

// threadStopped is the error of a post that gave up waiting for its turn
// because the worker is stopping (inbox.Stopping): its job goes back to
// the queue.
func threadStopped(key ThreadKey) error {
	return inbox.Stopped(fmt.Sprintf("slack: waiting for the turn of thread %s %s in %s", key.Domain, key.SubjectID, key.Route), nil)
}

// threadBusy is the error of a post that waited wait for its turn.
func threadBusy(key ThreadKey, wait time.Duration) error {
	return &RateLimitError{Method: "chat.postMessage", Channel: key.Route, RetryAfter: time.Second,
		Err: fmt.Errorf("%w: %s %s in %s, after %s", ErrThreadBusy, key.Domain, key.SubjectID, key.Route, wait)}
}
