package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/carryevents"
)

// payloadGroup measures what jobs of references cost the fan-out (issue
// 24: Redis holds nothing personal, so the worker loads each job's event
// from PostgreSQL) against the payloads of before, each event carried in
// its jobs and used by the worker without a query (internal/carryevents),
// in the same run, the sides alternating.
func payloadGroup() group {
	return group{
		name:  "payload",
		about: "jobs of references (the worker loads each event) against events carried in the jobs: fan-out deliveries/s, commit-to-inbox latency at 500 ev/s (also with the app's pool saturated), Redis bytes per completed job",
		run: func(ctx context.Context, b *bench) ([]figure, error) {
			if err := flushBenchRedis(ctx); err != nil {
				return nil, err
			}
			return payloadFigures(ctx, b)
		},
	}
}

// side returns the context a worker of one side starts with: the baseline
// (carried events) rides on it.
func side(ctx context.Context, carried bool) context.Context {
	if carried {
		return carryevents.With(ctx)
	}
	return ctx
}

// fillRealisticOutbox writes n issue events as an app records them (actor
// and record labels, request metadata, an extra of two keys: about 600
// bytes as JSON, what a carried job held) and their outbox rows, in one
// statement.
func fillRealisticOutbox(ctx context.Context, b *bench, n int) error {
	return b.db.WithContext(ctx).Exec(`WITH ev AS (
  INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra,
    request_id, correlation_id, source, ip, user_agent)
  SELECT 1 + g % ?, 'comment_added', 'users', (1 + g % 1000)::text, 'User ' || (1 + g % 1000), 'comments', g::text, 'Comment ' || g,
    jsonb_build_object('body', 'A comment of a few words, as people write them', 'mentions', jsonb_build_array(1 + g % 1000)),
    'req-' || g, 'req-' || g, 'web', ('10.0.' || (g % 250) || '.' || (1 + g % 250))::inet,
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'
  FROM generate_series(1, ?) g
  RETURNING id, action, subject_id)
INSERT INTO `+activity.OutboxTable+` (domain, event_id, action, subject_id) SELECT 'issue', id, action, subject_id::text FROM ev ORDER BY id`,
		fixtureIssues, n).Error
}

func payloadFigures(ctx context.Context, b *bench) ([]figure, error) {
	events := b.size(10000, 1000)
	const inboxes = 2
	deliveries := events * inboxes
	rounds := min(b.rounds, 5)
	b.logf("payload: throughput, %d events x %d inboxes, %d rounds per side", events, inboxes, rounds)
	var jobBytes [2][]float64  // Redis bytes per completed job: references, carried
	var cpuPer [2][3][]float64 // CPU µs per delivery: side, then process, PostgreSQL, Redis
	drain := func(carried bool) func() (float64, error) {
		return func() (float64, error) {
			if err := clearOutbox(ctx, b); err != nil {
				return 0, err
			}
			if err := b.db.WithContext(ctx).Exec(`TRUNCATE ` + inbox.PendingTable).Error; err != nil {
				return 0, err
			}
			if err := fillRealisticOutbox(ctx, b, events); err != nil {
				return 0, err
			}
			var count atomic.Int64
			done := make(chan struct{})
			var ins []inbox.Inbox
			for k := range inboxes {
				ins = append(ins, &noop{name: fmt.Sprintf("bench-noop-%d", k), count: &count, want: int64(deliveries), done: done})
			}
			w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: ins, Logger: quietLogger()})
			if err != nil {
				return 0, err
			}
			cpu0, err := takeCPU(ctx, b)
			if err != nil {
				return 0, err
			}
			start := time.Now()
			if err := w.Start(side(ctx, carried)); err != nil {
				return 0, err
			}
			err = waitDone(ctx, done, 5*time.Minute, "the payload run")
			elapsed := time.Since(start)
			var used cpuUse
			if err == nil {
				used, err = cpu0.since(ctx, b)
			}
			w.Shutdown()
			if err != nil {
				return 0, err
			}
			n, err := redisBytesPerJob(ctx)
			if err != nil {
				return 0, err
			}
			k := 0
			if carried {
				k = 1
			}
			jobBytes[k] = append(jobBytes[k], n)
			for i, v := range []float64{used.process, used.postgres, used.redis} {
				cpuPer[k][i] = append(cpuPer[k][i], v*1e6/float64(deliveries))
			}
			return float64(deliveries) / elapsed.Seconds(), nil
		}
	}
	refs, carried, err := alternate(rounds, drain(false), drain(true))
	if err != nil {
		return nil, err
	}
	figs := []figure{
		{Name: "fan-out deliveries/s, jobs of references (worker loads the event) vs events carried in jobs", Unit: "del/s", Ours: refs, Baseline: carried, Target: target{MinRatio: 0.95}},
		{Name: "Redis bytes per completed job, references vs carried event", Unit: "B", Ours: median(jobBytes[0]), Baseline: median(jobBytes[1])},
	}
	total := func(k int) float64 { return median(cpuPer[k][0]) + median(cpuPer[k][1]) + median(cpuPer[k][2]) }
	figs = append(figs, figure{Name: "fan-out CPU per delivery (bench process + its PostgreSQL backends + Redis), references vs carried", Unit: "µs", Ours: total(0), Baseline: total(1), Target: target{MaxRatio: 1.05}})
	b.note("payload: CPU per delivery, median of the rounds, references vs carried: bench process %.0f vs %.0f µs, its PostgreSQL backends %.0f vs %.0f µs, Redis %.0f vs %.0f µs.",
		median(cpuPer[0][0]), median(cpuPer[1][0]), median(cpuPer[0][1]), median(cpuPer[1][1]), median(cpuPer[0][2]), median(cpuPer[1][2]))

	for _, saturate := range []bool{false, true} {
		n := b.size(5000, 250)
		var p50, p99 [2][]float64
		label := "500 ev/s"
		if saturate {
			label += fmt.Sprintf(", app pool saturated by %d writers", saturators(b))
		}
		b.logf("payload: latency at %s, %d events, %d rounds per side", label, n, rounds)
		for i := range rounds {
			for k := range 2 {
				carried := (i+k)%2 == 1 // each side takes each place in turn
				lat, err := payloadLatency(ctx, b, n, saturate, carried)
				if err != nil {
					return nil, err
				}
				j := 0
				if carried {
					j = 1
				}
				p50[j] = append(p50[j], ms(percentile(lat, 50)))
				p99[j] = append(p99[j], ms(percentile(lat, 99)))
			}
		}
		if !saturate {
			figs = append(figs, figure{Name: "fan-out latency p50 at " + label + ", references vs carried", Unit: "ms", Ours: median(p50[0]), Baseline: median(p50[1]), Target: target{MaxRatio: 1.05}})
		}
		figs = append(figs, figure{Name: "fan-out latency p99 at " + label + ", references vs carried", Unit: "ms", Ours: median(p99[0]), Baseline: median(p99[1]), Target: target{MaxRatio: 1.05}})
	}
	b.note("payload: \"references\" is the worker as it is: jobs carry domain, event id and action, and the worker loads the events of the jobs running at once in one query by primary key, on a connection of its own, and under load reads ahead (the next 16-128 ids of the domain in the same query, kept up to a second for the jobs that follow); \"carried\" is the payload of before (internal/carryevents, the bench's baseline only): the relay loads each batch's events in its transaction and carries each (JSON, up to 8 KiB) in its jobs, and the worker uses the copy. Events as an app records them (actor and record labels, request id, IP, user agent, an extra of two keys). Throughput drains %d events to %d no-op inboxes (relay batches of 500, asynq concurrency 20), median of %d alternating rounds; Redis bytes per completed job is MEMORY USAGE of the task hashes after the drain, averaged. Latency records %d events at 500 ev/s with RecordEvent (one commit each), commit to the start of Process, median over %d alternating rounds of each run's percentile; saturated: %d goroutines record another action at full speed on the app's pool (%d connections) meanwhile.",
		events, inboxes, rounds, b.size(5000, 250), rounds, saturators(b), b.poolSize)
	return figs, nil
}

// payloadLatency records n events at 500 ev/s through a worker of one side
// and returns, for each, the time from RecordEvent's return to the start
// of the inbox's Process.
func payloadLatency(ctx context.Context, b *bench, n int, saturate, carried bool) ([]time.Duration, error) {
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	in := newStartTimes("bench-latency", int64(n))
	in.accepts = func(action string) bool { return action == "comment_added" }
	w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{in}, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	if err := w.Start(side(ctx, carried)); err != nil {
		return nil, err
	}
	defer w.Shutdown()
	rctx := activity.WithMetadata(ctx, activity.Metadata{RequestID: "bench", IP: "10.0.3.7", Source: "web",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"})
	actor := activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "User 1"})
	stop := func() {}
	if saturate {
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for k := range saturators(b) {
			wg.Go(func() {
				for i := 0; sctx.Err() == nil; i++ {
					_, _ = b.issues.RecordEvent(sctx, b.db, int64(1+(k*131+i)%fixtureIssues), "comment_viewed", actor)
				}
			})
		}
		stop = func() { cancel(); wg.Wait() }
	}
	committed := make([]time.Time, n)
	ids := make([]int64, n)
	var recErr atomic.Pointer[error]
	paced(ctx, n, 500, func(i int) {
		res, err := b.issues.RecordEvent(rctx, b.db, int64(1+i%fixtureIssues), "comment_added", actor,
			activity.Record(activity.Ref{Type: "comments", ID: fmt.Sprint(i), Label: "Comment " + fmt.Sprint(i)}),
			activity.Extra{"body": "A comment of a few words, as people write them", "mentions": []int{1 + i%1000}})
		committed[i] = time.Now()
		if err != nil {
			recErr.CompareAndSwap(nil, &err)
			return
		}
		ids[i] = res.Event.ID
	})
	if p := recErr.Load(); p != nil {
		stop()
		return nil, *p
	}
	err = waitDone(ctx, in.done, time.Minute, "the payload latency run")
	stop()
	if err != nil {
		return nil, err
	}
	// The first second warms the worker and is not counted.
	out := make([]time.Duration, 0, n)
	for i, id := range ids[min(500, n/10):] {
		i += min(500, n/10)
		out = append(out, max(in.at[id].Sub(committed[i]), 0))
	}
	return out, nil
}

// redisBytesPerJob averages MEMORY USAGE over up to 200 task hashes of
// the bench's Redis database.
func redisBytesPerJob(ctx context.Context) (float64, error) {
	c, err := inbox.RedisClient(benchRedis())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var total, n int64
	iter := c.Scan(ctx, 0, "asynq:{*}:t:*", 1000).Iterator()
	for iter.Next(ctx) && n < 200 {
		m, err := c.MemoryUsage(ctx, iter.Val()).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, err
		}
		total += m
		n++
	}
	if err := iter.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("payload: no completed task left in Redis to measure")
	}
	return float64(total) / float64(n), nil
}

// cpuUse is CPU time in seconds: the bench process's, its database's
// PostgreSQL backends' (per pid), and the bench Redis server's.
type cpuUse struct {
	process, postgres, redis float64
	backends                 map[int]float64
	redisless                bool // taken by takeDBCPU
}

// takeCPU reads the CPU time used so far by the bench process
// (getrusage), by each backend connected to the bench's database
// (/proc/<pid>/stat: utime + stime) and by the bench's Redis server (INFO
// cpu). On a Redis shared with other work, its figure includes that work.
func takeCPU(ctx context.Context, b *bench) (cpuUse, error) {
	u, err := takeDBCPU(ctx, b)
	if err != nil {
		return u, err
	}
	u.redisless = false
	c, err := inbox.RedisClient(benchRedis())
	if err != nil {
		return u, err
	}
	defer c.Close()
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			u.redis += f
		}
	}
	return u, nil
}

// takeDBCPU is takeCPU without Redis: the bench process and its
// database's PostgreSQL backends.
func takeDBCPU(ctx context.Context, b *bench) (cpuUse, error) {
	u := cpuUse{process: processCPU(), backends: map[int]float64{}, redisless: true}
	var pids []int
	if err := b.db.WithContext(ctx).Raw(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`).Scan(&pids).Error; err != nil {
		return u, err
	}
	for _, pid := range pids {
		if s, ok := procCPU(pid); ok {
			u.backends[pid] = s
			u.postgres += s
		}
	}
	return u, nil
}

// since returns the CPU used since u was taken: a backend that was not
// connected then counts from zero (one that exited meanwhile is lost).
func (u cpuUse) since(ctx context.Context, b *bench) (cpuUse, error) {
	take := takeCPU
	if u.redisless {
		take = takeDBCPU
	}
	now, err := take(ctx, b)
	if err != nil {
		return cpuUse{}, err
	}
	d := cpuUse{process: now.process - u.process, redis: now.redis - u.redis}
	for pid, s := range now.backends {
		d.postgres += s - u.backends[pid]
	}
	return d, nil
}

// procCPU reads a process's user + system CPU time, in seconds, from
// /proc/<pid>/stat; false where there is no such file.
func procCPU(pid int) (float64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (ut + st) / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// Linux everywhere.
const clockTicks = 100
