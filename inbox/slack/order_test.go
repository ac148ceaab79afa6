package slack_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// A parent and two replies recorded back to back on one issue land in one
// thread, in the order recorded: with one worker, and with two workers
// (each its own Poster, as two processes would have) taking the jobs.
func TestThreadPostsInOrder(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			ctx := context.Background()
			if _, err := redistest.Flush(ctx, redisDB); err != nil {
				t.Fatal(err)
			}
			srv := slacktest.Start(t, slacktest.Config{Token: token})
			name := unique("slack-order")
			for range workers {
				p, err := slackinbox.NewPoster(slackinbox.Config{
					Token: token, APIURL: srv.APIURL(), Threads: slackinbox.NewGormThreads(testDB),
					ChannelRate: 20 * time.Millisecond, Logger: testLogger(),
					Router: router(t, slackinbox.RouterConfig{Rules: []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}}}),
				})
				if err != nil {
					t.Fatal(err)
				}
				in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: name, Publisher: p})
				if err != nil {
					t.Fatal(err)
				}
				w, err := inbox.NewWorker(inbox.Config{
					DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
					DelayedTaskCheckInterval: 50 * time.Millisecond, Logger: testLogger(),
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Start(ctx); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(w.Shutdown)
			}

			var issueID int64
			if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&issueID).Error; err != nil {
				t.Fatal(err)
			}
			actors := []string{"Ana", "Bob", "Carol"}
			for i, actor := range actors {
				action := "comment_added"
				if i == 1 {
					action = "label_added"
				}
				if _, err := issues.RecordEvent(ctx, testDB, issueID, action, activity.Actor(activity.Ref{Type: "users", ID: fmt.Sprint(i + 1), Label: actor})); err != nil {
					t.Fatal(err)
				}
			}
			msgs, err := srv.WaitFor(3, wait)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, fmt.Sprintf("%s thread_ts=%q ts=%s", strings.Fields(m.Text)[0], m.ThreadTS, m.TS))
			}
			if len(msgs) != 3 || msgs[0].ThreadTS != "" || msgs[1].ThreadTS != msgs[0].TS || msgs[2].ThreadTS != msgs[0].TS {
				t.Fatalf("want a parent and two replies in its thread, got:\n%s", strings.Join(got, "\n"))
			}
			for i, actor := range actors {
				if !strings.Contains(msgs[i].Text, actor) {
					t.Fatalf("message %d is not %s's event; order:\n%s", i, actor, strings.Join(got, "\n"))
				}
			}
			var saved string
			if err := testDB.Raw(`SELECT ts FROM slack_threads WHERE domain = 'issue' AND subject_id = ?`, fmt.Sprint(issueID)).Scan(&saved).Error; err != nil || saved != msgs[0].TS {
				t.Fatalf("saved thread %q, %v; want the parent's ts %s", saved, err, msgs[0].TS)
			}
		})
	}
}

// A post already waiting for its channel's turn honours a 429 that
// arrives meanwhile: when its turn comes it looks again and waits until
// the later Retry-After is over. Measured on the server's clock.
func TestWaitingPostHonoursLaterRetryAfter(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	const rate = 500 * time.Millisecond
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token: token, APIURL: srv.APIURL(), ChannelRate: rate, Threads: &slackinbox.MemoryThreads{},
		Router: router(t, slackinbox.RouterConfig{Rules: []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first post takes the channel's turn now; the next two reserve
	// the turns rate and 2*rate later and wait. The first of them to post
	// is answered 429 with Retry-After 2s while the other still waits
	// (its turn is rate later): both must reach Slack after the 2s. One
	// of them replies in the first one's thread (posted to the channel's
	// ID, CISSUES), the other opens a thread (posted to #issues): one
	// channel, the same turns.
	subject := unique("ra")
	if _, err := p.Post(ctx, event(60, subject, "comment_added", "Ana", nil)); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 2 * time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, subject := range []string{subject, unique("ra")} {
		wg.Go(func() {
			_, err := p.Post(ctx, event(int64(61+i), subject, "comment_added", "Bob", nil))
			errs <- err
		})
	}
	msgs, err := srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a post failed: %v", err)
		}
	}
	refusals := srv.Refusals()
	if len(refusals) != 1 {
		t.Fatalf("%d refusals, want the one 429", len(refusals))
	}
	until := refusals[0].At.Add(2 * time.Second)
	for _, m := range msgs[1:] {
		if m.At.Before(until) {
			t.Errorf("a post reached Slack %v after the 429 asking for 2s", m.At.Sub(refusals[0].At))
		}
	}
	if msgs[1].ThreadTS == "" && msgs[2].ThreadTS == "" {
		t.Error("no post replied in the first one's thread")
	}
	if n := srv.Calls(slacktest.MethodPostMessage); n != 4 {
		t.Errorf("%d calls, want 4 (3 posts and the 429)", n)
	}
}

// Posts of one subject from two Posters (two processes' worth) and several
// goroutines at once open one thread: the first to take the thread's turn
// posts the parent, every other one replies to it, and the saved parent is
// never replaced. In memory, within one Poster, the same.
func TestConcurrentPostsOpenOneThread(t *testing.T) {
	for name, stores := range map[string]func() slackinbox.ThreadStore{
		"postgres": func() slackinbox.ThreadStore { return slackinbox.NewGormThreads(testDB) },
		"memory":   func() slackinbox.ThreadStore { return &slackinbox.MemoryThreads{} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := slacktest.Start(t, slacktest.Config{Token: token})
			posters := 2
			var shared slackinbox.ThreadStore
			if name == "memory" {
				posters, shared = 1, stores()
			}
			var ps []*slackinbox.Poster
			for range posters {
				threads := shared
				if threads == nil {
					threads = stores()
				}
				p, err := slackinbox.NewPoster(slackinbox.Config{
					Token: token, APIURL: srv.APIURL(), Threads: threads, ChannelRate: -1,
					Router: router(t, slackinbox.RouterConfig{Default: "#activity"}),
				})
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			subject := unique("burst")
			const n = 8
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					_, err := ps[i%len(ps)].Post(ctx, event(int64(70+i), subject, "comment_added", "Ana", nil))
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			msgs := srv.Messages()
			if len(msgs) != n || msgs[0].ThreadTS != "" {
				t.Fatalf("%d messages, the first %+v; want %d, the first a parent", len(msgs), msgs[0], n)
			}
			for _, m := range msgs[1:] {
				if m.ThreadTS != msgs[0].TS {
					t.Errorf("message %s has thread_ts %q, want the parent's %s", m.TS, m.ThreadTS, msgs[0].TS)
				}
			}
			if name == "postgres" {
				var saved string
				if err := testDB.Raw(`SELECT ts FROM slack_threads WHERE subject_id = ?`, subject).Scan(&saved).Error; err != nil || saved != msgs[0].TS {
					t.Errorf("saved parent %q, %v; want %s", saved, err, msgs[0].TS)
				}
			}
		})
	}
}

// A post whose thread's turn does not come within ThreadWait posts
// nothing and goes back to the job layer as a retry soon (ErrThreadBusy
// in a RateLimitError); once the turn is free it posts.
func TestThreadBusyRetriesTheJob(t *testing.T) {
	// The holder's event is earlier (the post waits for its announcement)
	// or later (the post waits for the key's lock).
	for _, c := range []struct {
		name    string
		threads slackinbox.ThreadStore
		holder  int64
	}{
		{"postgres/earlier", slackinbox.NewGormThreads(testDB), 80},
		{"postgres/later", slackinbox.NewGormThreads(testDB), 90},
		{"memory/earlier", &slackinbox.MemoryThreads{}, 80},
		{"memory/later", &slackinbox.MemoryThreads{}, 90},
	} {
		threads := c.threads
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			srv := slacktest.Start(t, slacktest.Config{Token: token})
			p, err := slackinbox.NewPoster(slackinbox.Config{
				Token: token, APIURL: srv.APIURL(), Threads: threads, ThreadWait: 200 * time.Millisecond,
				Router: router(t, slackinbox.RouterConfig{Default: "#activity"}),
			})
			if err != nil {
				t.Fatal(err)
			}
			subject := unique("busy")
			key := slackinbox.ThreadKey{Domain: "issue", SubjectID: subject, Route: "#activity"}
			held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				done <- threads.(slackinbox.ThreadLocker).LockThread(ctx, key, c.holder, time.Second, func(context.Context, slackinbox.ThreadStore) error {
					close(held)
					<-release
					return nil
				})
			}()
			select {
			case <-held:
			case <-time.After(wait):
				t.Fatal("the turn was not taken")
			}
			_, err = p.Post(ctx, event(81, subject, "comment_added", "Ana", nil))
			var rl *slackinbox.RateLimitError
			if !errors.Is(err, slackinbox.ErrThreadBusy) || !errors.As(err, &rl) || rl.RetryAfter != time.Second {
				t.Errorf("Post while the thread is held: %v; want ErrThreadBusy in a RateLimitError of 1s", err)
			}
			if n := srv.Calls(slacktest.MethodPostMessage); n != 0 {
				t.Fatalf("%d posts while the thread was held", n)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := p.Post(ctx, event(81, subject, "comment_added", "Ana", nil)); err != nil {
				t.Fatalf("the retry: %v", err)
			}
		})
	}
}

// With Config.Redis a 429 one process's Poster got holds the other
// processes' posts to the channel too, those already waiting for their
// turn included, until its Retry-After is over.
func TestRetryAfterSharedThroughRedis(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: redisDB})
	t.Cleanup(func() { _ = rdb.Close() })
	const rate = 500 * time.Millisecond
	var ps []*slackinbox.Poster
	for range 2 {
		p, err := slackinbox.NewPoster(slackinbox.Config{
			Token: token, APIURL: srv.APIURL(), Redis: rdb, ChannelRate: rate,
			Router: router(t, slackinbox.RouterConfig{Default: "#activity"}),
		})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	// The second process posts, and its next post waits rate for its turn;
	// meanwhile the first process's post is answered 429 with
	// Retry-After 2s.
	if _, err := ps[1].Post(ctx, event(100, unique("shared"), "comment_added", "Ana", nil)); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 2 * time.Second})
	errs := make(chan error, 2)
	for i, p := range []*slackinbox.Poster{ps[1], ps[0]} {
		go func() {
			_, err := p.Post(ctx, event(int64(101+i), unique("shared"), "comment_added", "Bob", nil))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	refusals := srv.Refusals()
	if len(refusals) != 1 {
		t.Fatalf("%d refusals, want the one 429", len(refusals))
	}
	for _, m := range msgs[1:] {
		if d := m.At.Sub(refusals[0].At); d < 2*time.Second {
			t.Errorf("a post reached Slack %v after the 429 asking for 2s", d)
		}
	}
}
