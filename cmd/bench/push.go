package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// pushGroup measures how long a new in-app notification takes from the
// worker's commit to a browser's open stream, with 1,000 streams open (one
// per person), the worker and the web server each with their own Redis
// connections as in two processes.
//
// Ours: the notify inbox commits the notification and its Announcer
// PUBLISHes the arrival; the notification center (web/notifycenter) wakes
// the recipient's stream, which reads what is new from PostgreSQL (the
// stream's truth: a lost message costs latency, never a notification) and
// writes it as a server-sent event.
//
// Baseline: the floor by hand: after the same commit, PUBLISH the
// notification itself as JSON; one subscription writes the payload
// straight to the recipient's open response. No database read on the web
// side, no resume after a reconnect.
//
// A third row is why the transport is Redis: the commit rate of
// notification inserts at concurrency 16 with one pg_notify each (in the
// transaction, as a per-notification NOTIFY would be), against the same
// inserts without.
func pushGroup() group {
	return group{
		name:  "push",
		about: "notification push latency, worker commit to SSE client, 1,000 streams open; pg_notify's cost on commits",
		run:   runPush,
	}
}

const pushChannels = "tidings:bench:push:"

// pushStreams is one side's open streams: the time each recipient's client
// saw each notification arrive.
type pushStreams struct {
	mu      sync.Mutex
	waiting map[string]chan time.Time // recipient -> the next arrival's time
}

func (s *pushStreams) expect(recipient string) chan time.Time {
	ch := make(chan time.Time, 1)
	s.mu.Lock()
	s.waiting[recipient] = ch
	s.mu.Unlock()
	return ch
}

func (s *pushStreams) arrived(recipient string, at time.Time) {
	s.mu.Lock()
	ch := s.waiting[recipient]
	delete(s.waiting, recipient)
	s.mu.Unlock()
	if ch != nil {
		ch <- at
	}
}

// openStreams connects one SSE client per recipient to url and returns
// when each has received its first event (the stream is live).
func openStreams(ctx context.Context, url string, recipients []string, s *pushStreams, event string) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(recipients), DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
	ready := make(chan error, len(recipients))
	for _, r := range recipients {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Header.Set("X-Recipient", r)
			res, err := client.Do(req)
			if err != nil {
				ready <- err
				return
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				ready <- fmt.Errorf("stream of %s: %s", r, res.Status)
				return
			}
			sc := bufio.NewScanner(res.Body)
			first := true
			for sc.Scan() {
				line := sc.Text()
				if line == "" && first {
					continue
				}
				if strings.HasPrefix(line, "event: ") || strings.HasPrefix(line, "data: ") {
					if first {
						first = false
						ready <- nil
					}
					if line == "event: "+event {
						s.arrived(r, time.Now())
					}
				}
			}
		}()
	}
	for range recipients {
		select {
		case err := <-ready:
			if err != nil {
				return err
			}
		case <-time.After(time.Minute):
			return fmt.Errorf("%d streams did not open within a minute", len(recipients))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// timedAnnouncer records when the worker announces (right after the
// commit) and passes the arrivals on.
type timedAnnouncer struct {
	next notify.Announcer
	at   time.Time
}

func (a *timedAnnouncer) Announce(ctx context.Context, arr []notify.Arrival) error {
	a.at = time.Now()
	return a.next.Announce(ctx, arr)
}

// rawAnnouncer is the baseline's worker side: PUBLISH the notification
// itself.
type rawAnnouncer struct {
	redis *redis.Client
}

func (a rawAnnouncer) Announce(ctx context.Context, arr []notify.Arrival) error {
	for _, x := range arr {
		if err := a.redis.Publish(ctx, "raw:"+pushChannels+x.Recipient, fmt.Sprintf(`{"seq":%d}`, x.Seq)).Err(); err != nil {
			return err
		}
	}
	return nil
}

// rawSSE is the baseline's web side: one pattern subscription, and each
// message written to the recipient's open response.
type rawSSE struct {
	mu      sync.Mutex
	streams map[string]chan string
}

func (s *rawSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := r.Header.Get("X-Recipient")
	ch := make(chan string, 16)
	s.mu.Lock()
	s.streams[rec] = ch
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.streams, rec); s.mu.Unlock() }()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "event: hello\ndata: {}\n\n")
	w.(http.Flusher).Flush()
	for {
		select {
		case p := <-ch:
			fmt.Fprintf(w, "event: notification\ndata: %s\n\n", p)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (s *rawSSE) run(ctx context.Context, ps *redis.PubSub) {
	for {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		ch := s.streams[strings.TrimPrefix(m.Channel, "raw:"+pushChannels)]
		s.mu.Unlock()
		if ch != nil {
			ch <- m.Payload
		}
	}
}

func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	}, nil
}

func runPush(ctx context.Context, b *bench) ([]figure, error) {
	if err := flushBenchRedis(ctx); err != nil {
		return nil, err
	}
	opt, ok := benchRedis().(asynq.RedisClientOpt)
	if !ok {
		return nil, fmt.Errorf("push: the push group runs against one Redis server, not a cluster (unset TIDINGS_BENCH_REDIS)")
	}
	newClient := func() *redis.Client { return redis.NewClient(&redis.Options{Addr: opt.Addr, DB: opt.DB, PoolSize: 16}) }
	webRedis, workerRedis, rawWeb := newClient(), newClient(), newClient()
	defer webRedis.Close()
	defer workerRedis.Close()
	defer rawWeb.Close()

	clients := b.size(1000, 10)
	samples := b.size(2000, 40)
	recipients := make([]string, clients)
	for i := range recipients {
		recipients[i] = "bench-" + strconv.Itoa(i)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Ours: the center, mounted, with the recipient in a header.
	center, err := notifycenter.New(notifycenter.Config{DB: b.db, Redis: webRedis, ChannelPrefix: pushChannels, Prefix: "/n",
		Recipient: func(r *http.Request) (string, bool) { return r.Header.Get("X-Recipient"), true },
		Logger:    slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer center.Close()
	oursURL, stopOurs, err := serve(center)
	if err != nil {
		return nil, err
	}
	defer stopOurs()
	ours := &pushStreams{waiting: map[string]chan time.Time{}}
	b.log.Printf("push: opening %d streams to the notification center", clients)
	if err := openStreams(ctx, oursURL+"/n/stream", recipients, ours, "notification"); err != nil {
		return nil, fmt.Errorf("ours: %w", err)
	}

	// Baseline: raw pub/sub straight to the response.
	raw := &rawSSE{streams: map[string]chan string{}}
	ps := rawWeb.PSubscribe(ctx, "raw:"+pushChannels+"*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		return nil, err
	}
	go raw.run(ctx, ps)
	rawURL, stopRaw, err := serve(raw)
	if err != nil {
		return nil, err
	}
	defer stopRaw()
	base := &pushStreams{waiting: map[string]chan time.Time{}}
	b.log.Printf("push: opening %d raw streams", clients)
	if err := openStreams(ctx, rawURL, recipients, base, "notification"); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}

	centerAnn, _ := notifycenter.NewAnnouncer(workerRedis, pushChannels)
	measure := func(streams *pushStreams, next notify.Announcer, n int) ([]time.Duration, error) {
		ann := &timedAnnouncer{next: next}
		var target string
		in, err := notify.New(notify.Config{Name: "bench-push", Accepts: inbox.Everything, Announcer: ann,
			Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{target}, nil }})
		if err != nil {
			return nil, err
		}
		out := make([]time.Duration, 0, n)
		actor := activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "User 1"})
		for i := range n {
			target = recipients[i%len(recipients)]
			res, err := b.issues.RecordEvent(ctx, b.db, int64(1+i%100), "comment_added", actor)
			if err != nil {
				return nil, err
			}
			got := streams.expect(target)
			d := &inbox.Delivery{Inbox: in.Name(), Event: res.Event, Attempt: 1, MaxAttempts: 1, DB: b.db,
				Ledger: inbox.NewLedger(inbox.LedgerConfig{}), Logger: slog.New(slog.DiscardHandler)}
			if err := in.Process(ctx, d); err != nil {
				return nil, err
			}
			select {
			case at := <-got:
				out = append(out, at.Sub(ann.at))
			case <-time.After(10 * time.Second):
				return nil, fmt.Errorf("notification %d to %s did not reach its stream within 10s", i, target)
			}
		}
		return out, nil
	}
	var oursLat, baseLat []time.Duration
	per := max(1, samples/b.rounds)
	for round := range b.rounds {
		first, second := true, false
		if round%2 == 1 {
			first, second = false, true
		}
		for _, oursFirst := range []bool{first, second} {
			if oursFirst {
				l, err := measure(ours, centerAnn, per)
				if err != nil {
					return nil, fmt.Errorf("ours: %w", err)
				}
				oursLat = append(oursLat, l...)
			} else {
				l, err := measure(base, rawAnnouncer{redis: workerRedis}, per)
				if err != nil {
					return nil, fmt.Errorf("baseline: %w", err)
				}
				baseLat = append(baseLat, l...)
			}
		}
	}
	b.note("push: %d streams open on each side, %d notifications each, one at a time to a rotating recipient; latency from the worker's announcement (right after its commit) to the client reading the event", clients, len(oursLat))

	commitOurs, commitBase, err := b.pgNotifyCost(ctx)
	if err != nil {
		return nil, err
	}
	return []figure{
		{Name: fmt.Sprintf("push latency p50 (commit to SSE client, %d streams; vs raw pub/sub to the response)", clients), Unit: "ms",
			Ours: ms(percentile(oursLat, 50)), Baseline: ms(percentile(baseLat, 50)), Target: target{Max: 100}},
		{Name: fmt.Sprintf("push latency p99 (commit to SSE client, %d streams; vs raw pub/sub to the response)", clients), Unit: "ms",
			Ours: ms(percentile(oursLat, 99)), Baseline: ms(percentile(baseLat, 99)), Target: target{Max: 1000}},
		{Name: "notification commits/s, 16 writers, with a pg_notify each (vs none)", Unit: "ev/s",
			Ours: commitOurs, Baseline: commitBase},
	}, nil
}

// pgNotifyCost measures notification commits per second at concurrency 16
// with a pg_notify in each transaction, and without.
func (b *bench) pgNotifyCost(ctx context.Context) (with, without float64, err error) {
	if err := b.db.WithContext(ctx).Exec(`CREATE TABLE IF NOT EXISTS bench_push_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, recipient text NOT NULL, body text NOT NULL)`).Error; err != nil {
		return 0, 0, err
	}
	dur := time.Duration(float64(3*time.Second) * b.scale)
	dur = max(dur, 500*time.Millisecond)
	rate := func(notify bool) (float64, error) {
		var mu sync.Mutex
		var n int
		var firstErr error
		deadline := time.Now().Add(dur)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline); i++ {
					err := b.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
						r := fmt.Sprintf("r%d", (w*7919+i)%1000)
						if err := tx.Exec(`INSERT INTO bench_push_notes (recipient, body) VALUES (?, 'x')`, r).Error; err != nil {
							return err
						}
						if notify {
							return tx.Exec(`SELECT pg_notify('tidings_bench_push', ?)`, r).Error
						}
						return nil
					})
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					n++
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(n) / dur.Seconds(), firstErr
	}
	var ws, wos []float64
	for round := range b.rounds {
		order := []bool{true, false}
		if round%2 == 1 {
			order = []bool{false, true}
		}
		for _, withNotify := range order {
			r, err := rate(withNotify)
			if err != nil {
				return 0, 0, err
			}
			if withNotify {
				ws = append(ws, r)
			} else {
				wos = append(wos, r)
			}
		}
	}
	return median(ws), median(wos), nil
}
