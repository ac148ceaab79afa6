package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// Redis is down while 600 events are recorded (more than the relay's
// batch of 500): every RecordEvent succeeds, and once Redis is back every event reaches every accepting
// inbox, and the notifications are exactly the expected set.
func TestRedisDownWhileRecording(t *testing.T) {
	reset(t)
	rds := redistest.NewPrivate(t)
	opt := asynq.RedisClientOpt{Addr: rds.Addr()}

	n, err := notify.New(notify.Config{Name: "down-notify", Recipients: recipientsFromExtra})
	if err != nil {
		t.Fatal(err)
	}
	all := newCollector("down-all", inbox.Everything)
	w := startWorker(t, inbox.Config{
		Redis: opt, Inboxes: []inbox.Inbox{n, all},
		Relay: inbox.RelayConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond},
	})
	_, issueID := newIssue(t)

	// The pipeline works with Redis up. (Wait for all of it: this Redis
	// keeps nothing on disk, so jobs still in it when it stops are lost
	// with it; see "Redis durability" in the package doc.)
	first := record(t, testDB, issueID, "comment_added", activity.Extra(map[string]any{"to": []string{"7"}}))
	waitFor(t, 10*time.Second, "the first event", func() bool {
		return all.count(first.ID) == 1 && countNotifications(t) == 1 && quiet(t, opt)
	}, all.changed)

	rds.Stop(t)

	const events = 600
	var mu sync.Mutex
	want := map[string]bool{"7/" + fmt.Sprint(first.ID): true}
	ids := []int64{first.ID}
	var wg sync.WaitGroup
	errs := make(chan error, events)
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := g; k < events; k += 10 {
				to := []string{fmt.Sprint(300 + k%11), fmt.Sprint(400 + k%3)}
				res, err := issues.RecordEvent(context.Background(), testDB, issueID, "comment_added",
					activity.Actor(activity.Ref{Type: "users", ID: "1"}), activity.Extra(map[string]any{"to": to}))
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				ids = append(ids, res.Event.ID)
				for _, r := range to {
					want[fmt.Sprintf("%s/%d", r, res.Event.ID)] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("RecordEvent with Redis down: %v", err)
	}
	if len(ids) != events+1 {
		t.Fatalf("recorded %d events, want %d", len(ids)-1, events)
	}
	// The relay tried, failed, and kept the rows.
	waitFor(t, 10*time.Second, "the relay to fail an enqueue", func() bool { return w.Relay().Stats().Failed > 0 })
	if outboxLen(t) == 0 {
		t.Fatal("the outbox is empty with Redis down: where did the events go?")
	}

	rds.Start(t)
	t.Cleanup(func() {
		if t.Failed() {
			ev, n := all.total()
			var lastErr []string
			testDB.Raw(`SELECT DISTINCT coalesce(last_error, '') FROM activity_outbox`).Scan(&lastErr)
			t.Logf("collector: %d events, %d deliveries of %d; %d notifications of %d; outbox %d rows %q; relay %+v; metrics %+v",
				ev, n, len(ids), countNotifications(t), len(want), outboxLen(t), lastErr, w.Relay().Stats(), w.Metrics().Snapshot())
		}
	})
	waitFor(t, 60*time.Second, "every event in every inbox once Redis is back", func() bool {
		ev, _ := all.total()
		return ev == len(ids) && countNotifications(t) >= int64(len(want)) && outboxLen(t) == 0
	}, all.changed)
	waitFor(t, 10*time.Second, "the queue to settle", func() bool { return quiet(t, opt) })

	for _, id := range ids {
		if c := all.count(id); c != 1 {
			t.Errorf("event %d reached the collector %d times, want once", id, c)
		}
	}
	var got []struct {
		Recipient string
		EventID   int64
	}
	if err := testDB.Raw(`SELECT recipient, event_id FROM notifications`).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d notifications, want %d", len(got), len(want))
	}
	for _, g := range got {
		k := fmt.Sprintf("%s/%d", g.Recipient, g.EventID)
		if !want[k] {
			t.Errorf("unexpected notification %s", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing notification %s", k)
	}
	t.Logf("relay: %+v", w.Relay().Stats())
}
