package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgprivate"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// cyclesGroup puts a worker through fault cycles: a private PostgreSQL
// restarted and a private Redis killed and started again empty, 20 times,
// under a steady recording load, and tables what the worker holds after
// each cycle. Bounded means the second half of the cycles ends no higher
// than the first: a leak (a Redis client made per reconnect, a listener
// never closed) grows with every cycle.
func cyclesGroup() group {
	return group{
		name:  "cycles",
		about: "fault cycles: a private PostgreSQL restarted and a private Redis killed empty, 20 times under load; the worker's Redis and PostgreSQL connections, goroutines, RSS and heap after each cycle (the last 10 cycles' max vs the first 10's), and every event delivered once",
		run:   runCycles,
	}
}

// cyclesHeapDirEnv, when set, names a directory where the worker writes a
// heap profile at each sample (heap-NN.pprof, NN the cycle): compare two
// with go tool pprof -base to see what grew.
const cyclesHeapDirEnv = "TIDINGS_BENCH_CYCLES_HEAP_DIR"

// cycleSample is what the worker holds after a cycle.
type cycleSample struct {
	cycle      int
	redisConns int // the worker's connections in Redis's CLIENT LIST
	pgConns    int // the worker's sessions in pg_stat_activity
	listeners  int // of which the relay's LISTEN connection(s)
	workerStats
	pgBack  time.Duration // from PostgreSQL back to an event recorded after it delivered and the relay LISTENing again
	catchUp time.Duration // from Redis back to every event recorded before it delivered
	detail  string        // the connections by name, for the log
}

func runCycles(ctx context.Context, b *bench) ([]figure, error) {
	cycles := b.size(20, 3)
	rate := b.size(50, 20) // events a second
	pg, err := pgprivate.Start(ctx, pgprivate.Config{MaxConnections: 100})
	if err != nil {
		return nil, fmt.Errorf("cycles: a private PostgreSQL: %w", err)
	}
	defer pg.Stop()
	rds, err := redistest.NewServer()
	if err != nil {
		return nil, fmt.Errorf("cycles: a private Redis: %w", err)
	}
	defer rds.Kill()
	const dbName = "tidings_bench_cycles"
	b.logf("cycles: PostgreSQL on port %d (%s), Redis on %s; creating %s", pg.Port, pg.Dir, rds.Addr(), dbName)
	load, err := createDatabase(ctx, pg.BaseDSN(), dbName, b.issues, 8)
	if err != nil {
		return nil, err
	}
	if sqlDB, err := load.DB(); err == nil {
		sqlDB.Close()
	}
	dsn := pg.DSN(dbName)
	if load, err = openGorm(withSetting(dsn, "application_name", "'"+cyclesLoadApp+"'"), 8); err != nil {
		return nil, err
	}
	if sqlDB, err := load.DB(); err == nil {
		defer sqlDB.Close()
	}
	if err := load.WithContext(ctx).Exec(`CREATE TABLE ` + cyclesReceivedTable + ` (event_id bigint PRIMARY KEY, n int NOT NULL)`).Error; err != nil {
		return nil, err
	}

	w, err := startCyclesWorker(ctx, dsn, rds.Addr())
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = w.stop()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: rds.Addr(), ClientName: "bench-cycles-sampler", MaxRetries: -1})
	defer rdb.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	s := &cycleSampler{w: w, rdb: rdb, insp: insp, dsn: dsn, db: load}

	var base int64
	if err := load.WithContext(ctx).Raw(`SELECT coalesce(max(id), 0) FROM issue_events`).Scan(&base).Error; err != nil {
		return nil, err
	}
	// The load: rate events a second, each one RecordEvent (one commit),
	// refused while PostgreSQL restarts; paused (s.gate) for each sample.
	var refused atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		recordSteadily(loadCtx, b, load, rate, &s.gate, &refused)
	}()
	defer func() { stopLoad(); wg.Wait() }()

	// Warm up (a second of the load delivered), then the sample before
	// any fault.
	b.logf("cycles: %d cycles under %d ev/s", cycles, rate)
	if _, err := s.deliveredAfter(ctx, base+int64(rate)); err != nil {
		return nil, err
	}
	if _, err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	first, err := s.sample(ctx, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	samples := []cycleSample{first}
	for c := 1; c <= cycles; c++ {
		if err := pg.Restart(ctx); err != nil {
			return nil, err
		}
		// The worker meets PostgreSQL's restart under load: its relay
		// and inbox are back once an event recorded after the restart
		// is delivered.
		var last int64
		if err := s.db.WithContext(ctx).Raw(`SELECT coalesce(max(id), 0) FROM issue_events`).Scan(&last).Error; err != nil {
			return nil, fmt.Errorf("cycle %d: %w", c, err)
		}
		back := time.Now()
		if _, err := s.deliveredAfter(ctx, last); err != nil {
			return nil, fmt.Errorf("cycle %d: after PostgreSQL's restart: %w", c, err)
		}
		if _, err := s.listening(ctx); err != nil {
			return nil, fmt.Errorf("cycle %d: after PostgreSQL's restart: %w", c, err)
		}
		pgBack := time.Since(back)
		if err := rds.Restart(); err != nil {
			return nil, err
		}
		took, err := s.catchUp(ctx)
		if err != nil {
			return nil, fmt.Errorf("cycle %d: %w", c, err)
		}
		cs, err := s.sample(ctx, c, pgBack, took)
		if err != nil {
			return nil, fmt.Errorf("cycle %d: %w", c, err)
		}
		samples = append(samples, cs)
		b.logf("cycles: %d: redis %d, postgres %d (listen %d), goroutines %d, RSS %.1f MB, heap %.1f MB, back from PostgreSQL in %v, caught up in %v; %s",
			c, cs.redisConns, cs.pgConns, cs.listeners, cs.Goroutines, float64(cs.RSSKB)/1024, float64(cs.HeapBytes)/(1<<20), pgBack.Round(time.Millisecond), took.Round(time.Millisecond), cs.detail)
	}
	stopLoad()
	wg.Wait()

	// Exactly once: every recorded event (as PostgreSQL holds them: a
	// commit whose answer the restart cut off counts) delivered to both
	// inboxes, none twice.
	once, err := s.deliveredOnce(ctx)
	if err != nil {
		return nil, err
	}
	stopped = true
	if err := w.stop(); err != nil {
		return nil, err
	}

	rows := [][]string{}
	for _, cs := range samples {
		back, up := "-", "-"
		if cs.cycle > 0 {
			back, up = fmt.Sprintf("%.2f", cs.pgBack.Seconds()), fmt.Sprintf("%.2f", cs.catchUp.Seconds())
		}
		rows = append(rows, []string{fmt.Sprint(cs.cycle), fmt.Sprint(cs.redisConns), fmt.Sprint(cs.pgConns), fmt.Sprint(cs.listeners),
			fmt.Sprint(cs.Goroutines), fmt.Sprintf("%.1f", float64(cs.RSSKB)/1024), fmt.Sprintf("%.1f", float64(cs.HeapBytes)/(1<<20)), back, up})
	}
	b.table(fmt.Sprintf("Fault cycles (cycle 0: before any fault): the worker process after each PostgreSQL restart and Redis kill, %d ev/s recorded throughout", rate),
		[]string{"cycle", "Redis conns", "PG conns", "of which LISTEN", "goroutines", "RSS MB", "heap MB", "PG back s", "caught up s"}, rows)

	half := len(samples[1:]) / 2
	early, late := samples[1:1+half], samples[1+half:]
	maxOf := func(xs []cycleSample, f func(cycleSample) float64) float64 {
		m := math.Inf(-1)
		for _, x := range xs {
			m = max(m, f(x))
		}
		return m
	}
	figs := []figure{}
	add := func(name, unit string, f func(cycleSample) float64, ratio float64) {
		figs = append(figs, figure{Name: fmt.Sprintf("worker %s after fault cycles %d-%d (max) vs cycles 1-%d (max)", name, half+1, len(samples)-1, half),
			Unit: unit, Ours: maxOf(late, f), Baseline: maxOf(early, f), Target: target{MaxRatio: ratio}})
	}
	// Each kill drops every Redis connection: a cycle's count is what
	// its catch-up burst opened (the relay's enqueuers and lookups, the
	// worker's jobs), within the pools' capacity, and varies by half from
	// cycle to cycle; a leak would add to it cycle after cycle.
	add("Redis connections", "conns", func(c cycleSample) float64 { return float64(c.redisConns) }, 1.5)
	add("PostgreSQL connections", "conns", func(c cycleSample) float64 { return float64(c.pgConns) }, 1)
	add("goroutines", "goroutines", func(c cycleSample) float64 { return float64(c.Goroutines) }, 1)
	add("RSS", "kB", func(c cycleSample) float64 { return float64(c.RSSKB) }, 1.1)
	add("live heap", "kB", func(c cycleSample) float64 { return float64(c.HeapBytes) / 1024 }, 1.2)
	del := figure{Name: "events recorded during the cycles, delivered once to each of 2 inboxes", Unit: "events", Ours: float64(once.delivered), Baseline: float64(once.recorded), Target: target{MinRatio: 1, MaxRatio: 1}}
	if once.problem != "" {
		del.Failed = once.problem
	}
	figs = append(figs, del)
	b.note("cycles: a private PostgreSQL (initdb, port %d) and a private redis-server (no persistence); the worker is a process of its own running tidings.Client's worker side (relay, asynq worker, scheduler) with an in-app inbox and an inbox of the app's own writing through the deliveries ledger, its gorm pool %d connections; %d events a second recorded by the bench (RecordEvent, one commit each) throughout. A cycle: pg_ctl restart -m fast, then until an event recorded after it is delivered and the relay's LISTEN connection is back (PG back), Redis killed (SIGKILL) and started empty, then until every event recorded before it is delivered (caught up), and a sample at a quiet moment (the load paused, every event delivered, no job pending or active): the worker's connections in Redis (CLIENT LIST, all but the bench's sampler) and in pg_stat_activity (all of its database but the bench's), its goroutines, RSS (VmRSS) and live heap after a GC. %d recordings refused while PostgreSQL restarted (rolled back, never delivered).",
		pg.Port, cyclesPool, rate, refused.Load())
	b.note("cycles: each Redis kill drops every connection, so a cycle's Redis count is what its catch-up opened and kept: the sweeper looks up and enqueues again every pending delivery, 16 at a time, and the worker runs up to 20 jobs; each go-redis client keeps up to its pool size (10 x GOMAXPROCS) open. It varies from cycle to cycle with that burst, hence its target of 1.5x: a leak (a client made per reconnect and still in use) would add to it cycle after cycle. Goroutines: the fewest of 10 counts 10 ms apart (a sweep's or a poll's passing goroutines come and go; a leaked one stays).")
	b.note("cycles: %d events recorded, %d delivered to the app's inbox, %d in-app notifications; %s", once.recorded, once.delivered, once.notified, cmpOr(once.problem, "each once"))
	return figs, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// recordSteadily records comment_added events at rate a second until ctx
// ends, counting the ones refused (PostgreSQL restarting). It records
// nothing while gate is write-locked.
func recordSteadily(ctx context.Context, b *bench, db *gorm.DB, rate int, gate *sync.RWMutex, refused *atomic.Int64) {
	actor := activity.Actor(activity.Ref{Type: "users", ID: "2", Label: "User 2"})
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	var i int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		i++
		gate.RLock()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := b.issues.RecordEvent(rctx, db, 1+i%fixtureIssues, "comment_added", actor); err != nil && ctx.Err() == nil {
			refused.Add(1)
		}
		cancel()
		gate.RUnlock()
	}
}

// cycleSampler reads what the worker holds.
type cycleSampler struct {
	w    *cyclesWorker
	rdb  *redis.Client
	insp *asynq.Inspector
	dsn  string
	db   *gorm.DB
	gate sync.RWMutex // write-locked: the load pauses
}

// catchUp waits until every event recorded so far is delivered to the
// app's inbox, and returns how long that took.
func (s *cycleSampler) catchUp(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var recorded int64
	if err := s.db.WithContext(ctx).Raw(`SELECT coalesce(max(id), 0) FROM issue_events`).Scan(&recorded).Error; err != nil {
		return 0, err
	}
	for deadline := start.Add(3 * time.Minute); ; {
		var missing int64
		err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM issue_events e WHERE e.id <= ? AND e.action = 'comment_added'
AND NOT EXISTS (SELECT 1 FROM `+cyclesReceivedTable+` r WHERE r.event_id = e.id)`, recorded).Scan(&missing).Error
		if err == nil && missing == 0 {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("cycles: %d events recorded before the fault not delivered 3 minutes on (%v)", missing, err)
		}
		if err := sleepCtx(ctx, cyclesPoll); err != nil {
			return 0, err
		}
	}
}

// deliveredAfter waits until the app's inbox took an event with an id
// above after, and returns how long that took.
func (s *cycleSampler) deliveredAfter(ctx context.Context, after int64) (time.Duration, error) {
	start := time.Now()
	for deadline := start.Add(3 * time.Minute); ; {
		var n int64
		err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM (SELECT 1 FROM `+cyclesReceivedTable+` WHERE event_id > ? LIMIT 1) x`, after).Scan(&n).Error
		if err == nil && n > 0 {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("cycles: no event recorded after %d delivered 3 minutes on (%v)", after, err)
		}
		if err := sleepCtx(ctx, cyclesPoll); err != nil {
			return 0, err
		}
	}
}

// quiet waits until every event recorded is delivered and the worker's
// queues hold no job pending or active.
func (s *cycleSampler) quiet(ctx context.Context) error {
	if _, err := s.catchUp(ctx); err != nil {
		return err
	}
	for deadline := time.Now().Add(3 * time.Minute); ; {
		busy, err := s.busy()
		if err == nil && busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cycles: the worker's queues still hold %d jobs 3 minutes after the load paused (%v)", busy, err)
		}
		if err := sleepCtx(ctx, cyclesPoll); err != nil {
			return err
		}
	}
}

// busy counts the jobs pending or active in the worker's queues.
func (s *cycleSampler) busy() (int, error) {
	qs, err := s.insp.Queues()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, q := range qs {
		info, err := s.insp.GetQueueInfo(q)
		if err != nil {
			return 0, err
		}
		n += info.Pending + info.Active
	}
	return n, nil
}

// listening waits until the relay's LISTEN connection is back in
// pg_stat_activity, and returns how long that took.
func (s *cycleSampler) listening(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for deadline := start.Add(time.Minute); ; {
		var n int64
		err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?`, inbox.ListenApplicationName).Scan(&n).Error
		if err == nil && n > 0 {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("cycles: the relay's LISTEN connection not back a minute on (%v)", err)
		}
		if err := sleepCtx(ctx, cyclesPoll); err != nil {
			return 0, err
		}
	}
}

// cyclesPoll is how often the bench looks for the deliveries it waits
// for (each wait has a deadline).
const cyclesPoll = 50 * time.Millisecond

// sample reads what the worker holds at a quiet moment: the load
// paused, every event recorded delivered and no job pending or active.
func (s *cycleSampler) sample(ctx context.Context, cycle int, pgBack, catchUp time.Duration) (cycleSample, error) {
	cs := cycleSample{cycle: cycle, pgBack: pgBack, catchUp: catchUp}
	s.gate.Lock()
	defer s.gate.Unlock()
	if err := s.quiet(ctx); err != nil {
		return cs, err
	}
	st, err := s.w.stats()
	if err != nil {
		return cs, err
	}
	cs.workerStats = st
	if dir := os.Getenv(cyclesHeapDirEnv); dir != "" {
		if err := s.w.heapProfile(filepath.Join(dir, fmt.Sprintf("heap-%02d.pprof", cycle))); err != nil {
			return cs, err
		}
	}
	list, err := s.rdb.ClientList(ctx).Result()
	if err != nil {
		return cs, fmt.Errorf("cycles: CLIENT LIST: %w", err)
	}
	names := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		if l != "" && !strings.Contains(l, " name=bench-cycles-sampler ") {
			cs.redisConns++
			_, name, _ := strings.Cut(l, " name=")
			name, _, _ = strings.Cut(name, " ")
			_, cmd, _ := strings.Cut(l, " cmd=")
			cmd, _, _ = strings.Cut(cmd, " ")
			names[name+"/"+cmd]++
		}
	}
	cs.detail = fmt.Sprintf("redis %v", names)
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return cs, err
	}
	defer conn.Close(ctx)
	var dbName string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		return cs, err
	}
	var byName string
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE application_name = $3),
coalesce(string_agg(application_name || ':' || state, ', ' ORDER BY application_name, state), '')
FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`, dbName, cyclesLoadApp, inbox.ListenApplicationName).Scan(&cs.pgConns, &cs.listeners, &byName)
	cs.detail += "; postgres " + byName
	return cs, err
}

// onceResult is the exactly-once check.
type onceResult struct {
	recorded, delivered, notified int64
	problem                       string
}

// deliveredOnce waits (up to 3 minutes) for every recorded event to reach
// both inboxes, then checks that none reached either twice.
func (s *cycleSampler) deliveredOnce(ctx context.Context) (onceResult, error) {
	var r onceResult
	for deadline := time.Now().Add(3 * time.Minute); ; {
		err := s.db.WithContext(ctx).Raw(`SELECT (SELECT count(*) FROM issue_events WHERE action = 'comment_added'),
(SELECT count(*) FROM `+cyclesReceivedTable+`), (SELECT count(DISTINCT event_id) FROM notifications)`).Row().Scan(&r.recorded, &r.delivered, &r.notified)
		if err != nil {
			return r, err
		}
		if r.delivered == r.recorded && r.notified == r.recorded {
			break
		}
		if time.Now().After(deadline) {
			r.problem = fmt.Sprintf("3 minutes after the load: %d of %d events delivered, %d notified", r.delivered, r.recorded, r.notified)
			return r, nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return r, err
		}
	}
	var twice, notifiedTwice, strays int64
	err := s.db.WithContext(ctx).Raw(`SELECT (SELECT count(*) FROM `+cyclesReceivedTable+` WHERE n > 1),
(SELECT count(*) FROM (SELECT 1 FROM notifications GROUP BY event_id, recipient HAVING count(*) > 1) d),
(SELECT count(*) FROM `+cyclesReceivedTable+` r WHERE NOT EXISTS (SELECT 1 FROM issue_events e WHERE e.id = r.event_id))`).Row().Scan(&twice, &notifiedTwice, &strays)
	if err != nil {
		return r, err
	}
	var problems []string
	if twice > 0 {
		problems = append(problems, fmt.Sprintf("%d events delivered twice to the app's inbox", twice))
	}
	if notifiedTwice > 0 {
		problems = append(problems, fmt.Sprintf("%d notified twice", notifiedTwice))
	}
	if strays > 0 {
		problems = append(problems, fmt.Sprintf("%d deliveries of events not recorded", strays))
	}
	r.problem = strings.Join(problems, "; ")
	return r, nil
}
