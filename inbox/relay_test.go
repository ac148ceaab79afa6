package inbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// recordMany records n comment_added events on issueID from 8 goroutines
// and returns their IDs.
func recordMany(t *testing.T, issueID int64, n int) []int64 {
	t.Helper()
	var mu sync.Mutex
	ids := make([]int64, 0, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := g; k < n; k += 8 {
				res, err := issues.RecordEvent(context.Background(), testDB, issueID, "comment_added",
					activity.Actor(activity.Ref{Type: "users", ID: "1"}))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ids = append(ids, res.Event.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// Two relays draining one outbox of 2,000 events (20 batches of 100,
// claimed by both at once) enqueue each (event, inbox) exactly once, and
// each delivery is processed once.
func TestTwoRelaysEnqueueEachDeliveryOnce(t *testing.T) {
	reset(t)
	_, issueID := newIssue(t)
	const events = 2000
	ids := recordMany(t, issueID, events)

	a := newCollector("two-a", inbox.Everything)
	b := newCollector("two-b", inbox.On("issue", "comment_added"))
	never := newCollector("two-never", inbox.On("issue", "label_added"))
	inboxes := []inbox.Inbox{a, b, never}
	// A worker without a relay processes what the two relays enqueue.
	startWorker(t, inbox.Config{Inboxes: inboxes, DisableRelay: true, Concurrency: 32})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var relays []*inbox.Relay
	var wg sync.WaitGroup
	for range 2 {
		r, err := inbox.NewRelay(inbox.RelayConfig{
			DB: testDB, Redis: redis, Inboxes: inboxes, BatchSize: 100,
			PollInterval: 20 * time.Millisecond, DisableListen: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		relays = append(relays, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.Run(ctx)
		}()
	}
	waitFor(t, 120*time.Second, "4,000 deliveries", func() bool {
		_, na := a.total()
		_, nb := b.total()
		return na >= events && nb >= events && quiet(t, redis)
	}, a.changed, b.changed)
	cancel()
	wg.Wait()

	var total inbox.RelayStats
	for i, r := range relays {
		s := r.Stats()
		t.Logf("relay %d: %+v", i, s)
		if s.Rows == 0 {
			t.Errorf("relay %d claimed no row: the test did not run two relays at once", i)
		}
		total.Rows += s.Rows
		total.Enqueued += s.Enqueued
		total.Duplicates += s.Duplicates
		total.Failed += s.Failed
	}
	if total.Rows != events || total.Enqueued != 2*events || total.Duplicates != 0 || total.Failed != 0 {
		t.Errorf("together the relays claimed %d rows and enqueued %d tasks (%d duplicates, %d failed); want %d rows, %d tasks, no duplicate",
			total.Rows, total.Enqueued, total.Duplicates, total.Failed, events, 2*events)
	}
	for _, c := range []*collector{a, b} {
		for _, id := range ids {
			if n := c.count(id); n != 1 {
				t.Fatalf("inbox %s processed event %d %d times, want once", c.name, id, n)
			}
		}
	}
	if _, n := never.total(); n != 0 {
		t.Errorf("inbox two-never processed %d deliveries", n)
	}
}
