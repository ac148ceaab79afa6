package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/carryevents"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// RelayConfig configures a Relay. Zero fields take the documented defaults.
type RelayConfig struct {
	// DB is the database holding activity_outbox. Required. It must use
	// the pgx driver (gorm.io/driver/postgres does). The relay does not
	// use DB's pool: it opens one of its own (see DSN, MaxConns), so an
	// application pool saturated by writers never delays fan-out.
	DB *gorm.DB
	// DSN is what the relay's own pool connects with. Default: the DSN DB
	// was opened with. When DB was opened on an existing connection pool
	// and DSN is empty, the relay falls back to DB's pool and logs that.
	DSN string
	// MaxConns caps the relay's own pool. Each batch in flight holds one
	// connection for its transaction; one more serves the sweeper of
	// pending deliveries. Default Concurrency + 1.
	MaxConns int
	// Redis is where jobs are enqueued. Required unless Client is set.
	Redis asynq.RedisConnOpt
	// Client enqueues the jobs; when nil, the relay makes one from Redis
	// and closes it in Close.
	Client *asynq.Client
	// Inboxes are the inboxes events fan out to. Required.
	Inboxes []Inbox
	// Domains, when set, are the only domains whose rows the relay
	// enqueues: a row of another domain stays in the outbox with a
	// last_error saying so, retried at MaxBackoff. Leave it empty to
	// enqueue every domain. Jobs carry references only (domain, event
	// id, action): the worker loads the event when the job runs.
	Domains []*activity.Domain

	// BatchSize is how many outbox rows one transaction claims.
	// Default 500.
	BatchSize int
	// EnqueueConcurrency is how many enqueues run at once within a batch
	// (asynq's client sends one command per task; it has no pipelining).
	// Default 16.
	EnqueueConcurrency int
	// EnqueueTimeout bounds the enqueues of one batch. Default 10s.
	EnqueueTimeout time.Duration
	// Retention keeps a completed task (and so its ID) in Redis for this
	// long, so a re-enqueue within it is refused as a duplicate; past it,
	// only the ledger keeps effects once. Default DefaultRetention.
	// Redis holds each completed job meanwhile: measured (cmd/bench,
	// payload group), about 370 bytes (a job carries references only), so
	// 2 minutes at 1,000 deliveries per second is about 50 MB.
	Retention time.Duration

	// Recording wakes relays at most once per activity.DomainConfig.
	// WakeInterval per process (never one notification per event, which
	// would serialize every recording commit); the relay finds the events
	// recorded in between by polling, tightly while events keep coming.
	// (Events recorded on the pool in the relay's own process, through
	// Domains, wake it as they commit: activity.Domain.OnCommitted.)
	//
	// After a batch that found rows, the relay polls every MinPollInterval
	// for ActivePeriod; then the pause doubles per empty poll up to
	// PollInterval. A wake-up (or a full batch) relays at once. Keep
	// ActivePeriod at or above the recorders' WakeInterval: then an event
	// that carried no wake-up is always recorded within ActivePeriod of
	// one that did, and is found within MinPollInterval.
	//
	// PollInterval is the idle ceiling, also the safety net when a LISTEN
	// connection is down. Default time.Second.
	PollInterval time.Duration
	// ListeningPollInterval is the idle ceiling while the LISTEN
	// connection is up: the pause keeps doubling past PollInterval up to
	// it. Recordings announce themselves then (a notification at most
	// every WakeInterval, the events in between found by the active
	// polls), so this poll is only the safety net for rows nothing
	// announced: a wake-up lost with its rolled-back transaction, a
	// transaction that commits after the active period, rows written by
	// hand. Rows whose enqueue failed are polled for when their backoff
	// ends, and LISTEN going down brings the ceiling back to PollInterval
	// at once. Default 5s (an idle relay's claim every second was a
	// third of the PostgreSQL CPU an idle worker costs); below
	// PollInterval: PollInterval.
	ListeningPollInterval time.Duration
	// MinPollInterval is the pause between polls while active.
	// Default 5ms.
	MinPollInterval time.Duration
	// Concurrency is how many batches the relay works on at once: while
	// one waits on Redis or on its commit, another claims the next rows
	// (SKIP LOCKED keeps them apart). Default 1: on 2 cores two loops
	// measured slower (p99 at 2,000 ev/s 152-195 ms against 58-138 ms),
	// their claims splitting the same rows into more, smaller batches.
	Concurrency int
	// ActivePeriod is how long after the last batch that found rows the
	// relay keeps polling every MinPollInterval. Default 200ms (twice
	// activity.DefaultWakeInterval).
	ActivePeriod time.Duration
	// DisableListen turns off LISTEN (the relay then only polls).
	DisableListen bool
	// ListenDSN is the connection string for the dedicated LISTEN
	// connection. Default: DSN, else the DSN DB was opened with; failing
	// that, a connection borrowed from DB's pool for as long as the relay
	// runs.
	ListenDSN string

	// MinBackoff and MaxBackoff bound the delay before a row whose
	// enqueue failed is tried again (doubling per attempt), and the
	// relay's pause when a whole batch failed (Redis down). Defaults
	// 100ms and 30s. MaxBackoff must stay below Retention, so the tasks
	// of a partly enqueued row are still deduplicated when it is retried.
	MinBackoff, MaxBackoff time.Duration

	// App namespaces queues and task IDs so that several apps can share
	// one Redis database (see AppQueue). Default "" (none).
	App string

	// Pending keeps each enqueued delivery findable in PostgreSQL until it
	// is done, and re-enqueues the ones Redis lost (see PendingConfig).
	Pending PendingConfig

	// Logger receives the relay's logs. Default slog.Default().
	Logger *slog.Logger

	// forBackfill marks a Backfiller's relay: a paced replay of history
	// through the app's pool by design, so the warning about sharing it
	// (meant for the fan-out of new events) does not apply.
	forBackfill bool
}

// DefaultListeningPollInterval is the default
// RelayConfig.ListeningPollInterval.
const DefaultListeningPollInterval = 5 * time.Second

// DefaultRetention is the default RelayConfig.Retention.
const DefaultRetention = 2 * time.Minute

// Relay moves committed events from the outbox to asynq: it claims outbox
// rows with SELECT ... FOR UPDATE SKIP LOCKED, enqueues one task per
// (event, accepting inbox) with TaskID(inbox, event), and deletes the rows
// whose enqueues all succeeded (recording their jobs in inbox_pending, see
// PendingConfig), in one transaction. Rows whose enqueues
// failed stay, with a backoff. A LISTEN connection wakes it right after a
// commit; it polls as well.
//
// Several relays (several worker processes) can run against one database:
// SKIP LOCKED gives each a disjoint batch, and the task ID makes a second
// enqueue of the same delivery a no-op (asynq.ErrTaskIDConflict counts as
// success). A relay holds at most one batch in memory.
type Relay struct {
	cfg      RelayConfig
	db       *gorm.DB // the relay's own pool (DB's when sharedDB)
	sharedDB bool
	client   *asynq.Client
	ownsCli  bool
	routes   []route
	domains  map[string]*activity.Domain
	log      *slog.Logger
	wake     chan struct{}
	stats    relayCounters
	listenUp atomic.Bool
	retryAt  atomic.Int64 // unix nanoseconds: the earliest backoff of rows this relay rescheduled
	pending  pendingState
	loss     lossState
	fo       failoverState
	backfill bool // a Backfiller's: its jobs say so (no inbox_pending rows)
	// wakeWorker, when set, wakes the in-process worker's asynq server
	// (its dequeueGate) after each enqueue and on each notification.
	wakeWorker func()
}

// route is one inbox as the relay sees it.
type route struct {
	in     Inbox
	name   string
	queue  string
	shards int
	opts   []asynq.Option
}

// RelayStats are a relay's counters since it was made.
type RelayStats struct {
	Polls      int64 // claims tried, whether they found rows or not
	Batches    int64 // transactions that claimed at least one row
	Rows       int64 // outbox rows claimed
	Enqueued   int64 // tasks enqueued
	Duplicates int64 // enqueues refused as existing task IDs (counted as done)
	Failed     int64 // enqueues that failed (their rows stay, with a backoff)
	Deleted    int64 // rows deleted after all their enqueues succeeded
	Unwanted   int64 // rows no inbox accepted (deleted too)
}

type relayCounters struct {
	polls, batches, rows, enqueued, duplicates, failed, deleted, unwanted atomic.Int64
}

// NewRelay checks cfg and returns a relay; Run starts it.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.DB == nil {
		return nil, &ConfigError{Field: "RelayConfig.DB", Reason: "is nil: the relay reads the outbox from it"}
	}
	if cfg.Client == nil && cfg.Redis == nil {
		return nil, &ConfigError{Field: "RelayConfig.Redis", Reason: "is nil: set Redis (or Client) to enqueue to"}
	}
	if len(cfg.Inboxes) == 0 {
		return nil, &ConfigError{Field: "RelayConfig.Inboxes", Reason: "is empty: there is nothing to fan out to"}
	}
	setDefault(&cfg.BatchSize, 500)
	setDefault(&cfg.EnqueueConcurrency, 16)
	setDefault(&cfg.EnqueueTimeout, 10*time.Second)
	setDefault(&cfg.Retention, DefaultRetention)
	setDefault(&cfg.PollInterval, time.Second)
	setDefault(&cfg.ListeningPollInterval, DefaultListeningPollInterval)
	cfg.ListeningPollInterval = max(cfg.ListeningPollInterval, cfg.PollInterval)
	setDefault(&cfg.MinPollInterval, 5*time.Millisecond)
	setDefault(&cfg.ActivePeriod, 200*time.Millisecond)
	setDefault(&cfg.Concurrency, 1)
	setDefault(&cfg.MaxConns, cfg.Concurrency+1)
	setDefault(&cfg.MinBackoff, 100*time.Millisecond)
	setDefault(&cfg.MaxBackoff, 30*time.Second)
	if cfg.BatchSize < 0 || cfg.EnqueueConcurrency < 0 || cfg.Concurrency < 0 {
		return nil, &ConfigError{Field: "RelayConfig.BatchSize", Reason: "EnqueueConcurrency and Concurrency must not be negative"}
	}
	if cfg.MinPollInterval > cfg.PollInterval {
		return nil, &ConfigError{Field: "RelayConfig.MinPollInterval", Reason: fmt.Sprintf("is %v, above PollInterval %v", cfg.MinPollInterval, cfg.PollInterval)}
	}
	if cfg.MaxConns < 1 {
		return nil, &ConfigError{Field: "RelayConfig.MaxConns", Reason: "must be at least 1"}
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, &ConfigError{Field: "RelayConfig.MaxBackoff", Reason: fmt.Sprintf("is %v, below MinBackoff %v", cfg.MaxBackoff, cfg.MinBackoff)}
	}
	if cfg.MaxBackoff >= cfg.Retention {
		return nil, &ConfigError{Field: "RelayConfig.MaxBackoff", Reason: fmt.Sprintf("is %v, not below Retention %v: a row retried after its tasks' IDs were forgotten would enqueue them again", cfg.MaxBackoff, cfg.Retention)}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := cfg.DB.DB(); err != nil {
		return nil, &ConfigError{Field: "RelayConfig.DB", Reason: "has no *sql.DB: " + err.Error()}
	}
	if cfg.ListenDSN == "" {
		cfg.ListenDSN = cfg.DSN
	}
	r := &Relay{cfg: cfg, client: cfg.Client, log: cfg.Logger, wake: make(chan struct{}, 1)}
	seen := map[string]bool{}
	for i, in := range cfg.Inboxes {
		if in == nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Inboxes[%d]", i), Reason: "is nil"}
		}
		name := in.Name()
		if err := checkName(name); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, &ConfigError{Field: fmt.Sprintf("Inboxes[%d]", i), Reason: fmt.Sprintf("is named %q like another inbox: names must be unique", name)}
		}
		seen[name] = true
		p := PolicyOf(in)
		if err := p.validate(name); err != nil {
			return nil, err
		}
		p.Queue = AppQueue(cfg.App, p.Queue)
		r.routes = append(r.routes, route{in: in, name: name, queue: p.Queue, shards: p.Shards, opts: []asynq.Option{
			asynq.Queue(p.Queue), asynq.MaxRetry(p.MaxRetry), asynq.Timeout(p.Timeout), asynq.Retention(cfg.Retention),
		}})
	}
	if len(cfg.Domains) > 0 {
		r.domains = map[string]*activity.Domain{}
		for i, d := range cfg.Domains {
			if d == nil {
				return nil, &ConfigError{Field: fmt.Sprintf("RelayConfig.Domains[%d]", i), Reason: "is nil"}
			}
			r.domains[d.Name()] = d
		}
	}
	db, shared, err := ownPool(cfg.DB, cfg.DSN, cfg.MaxConns, RelayApplicationName, relaySettings())
	if err != nil {
		return nil, &ConfigError{Field: "RelayConfig.DSN", Reason: err.Error()}
	}
	if shared && !cfg.forBackfill {
		r.log.Warn("inbox: the relay shares the application's connection pool (DB was opened on an existing pool and RelayConfig.DSN is empty); set DSN so that busy writers cannot delay fan-out")
	}
	r.db, r.sharedDB = db, shared
	if r.client == nil {
		r.client = asynq.NewClient(cfg.Redis)
		r.ownsCli = true
	}
	if err := r.initPending(); err != nil {
		return nil, err
	}
	return r, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// relaySettings returns the session settings of the relay's own
// connections (see RelayOnce for why).
func relaySettings() map[string]string {
	return map[string]string{"plan_cache_mode": "force_custom_plan", "synchronous_commit": "off"}
}

// RelayApplicationName is the application_name of the relay's own pool
// in pg_stat_activity.
const RelayApplicationName = "tidings relay"

// Close releases the relay's own pool and the asynq client it made (not
// one it was given).
func (r *Relay) Close() error {
	err := closePool(r.db, r.sharedDB)
	r.closePending()
	if r.ownsCli {
		err = errors.Join(err, r.client.Close())
	}
	return err
}

// Stats returns the relay's counters.
func (r *Relay) Stats() RelayStats {
	s := &r.stats
	return RelayStats{
		Polls: s.polls.Load(), Batches: s.batches.Load(), Rows: s.rows.Load(), Enqueued: s.enqueued.Load(), Duplicates: s.duplicates.Load(),
		Failed: s.failed.Load(), Deleted: s.deleted.Load(), Unwanted: s.unwanted.Load(),
	}
}

// Listening reports whether the relay's LISTEN connection is up.
func (r *Relay) Listening() bool { return r.listenUp.Load() }

// Wake makes a running relay look for rows now.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx is done, then returns nil. It drains the outbox,
// waits for a notification or the poll interval, and drains again. When a
// whole batch fails (Redis or PostgreSQL down) it pauses, doubling from
// MinBackoff to MaxBackoff; polling goes on whatever happens to LISTEN.
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// This process's own recordings wake the relay as they commit, with
	// nothing sent to PostgreSQL (activity.Domain.OnCommitted); other
	// processes' through LISTEN and the polls.
	for _, d := range r.cfg.Domains {
		defer d.OnCommitted(r.Wake)()
	}
	if !r.cfg.DisableListen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.listen(ctx)
		}()
	}
	if r.sweeps() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sweepLoop(ctx)
		}()
	}
	if r.checksLoss() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.lossLoop(ctx)
		}()
	}
	if r.watchesFailover() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.failoverLoop(ctx)
		}()
	}
	for k := range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered, so that under load the loops' batches interleave.
			r.pollLoop(ctx, time.Duration(k)*r.cfg.MinPollInterval/time.Duration(r.cfg.Concurrency))
		}()
	}
	<-ctx.Done()
	return nil
}

// pollLoop is one of Run's batch loops: relay a batch, then pause as
// nextPoll (or the failure backoff) says, or until woken.
func (r *Relay) pollLoop(ctx context.Context, delay time.Duration) {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	failures := 0
	var lastFound time.Time
	idle := r.cfg.MinPollInterval
	for {
		b, err := r.RelayOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		var pause time.Duration
		switch {
		case err != nil || (b.Rows > 0 && b.Enqueued+b.Duplicates == 0 && b.Failed > 0):
			failures++
			pause = backoff(r.cfg.MinBackoff, r.cfg.MaxBackoff, failures)
			if err == nil {
				err = b.Err
			}
			if failures == 1 || failures%10 == 0 {
				r.log.LogAttrs(ctx, slog.LevelError, "inbox: relay cannot hand events to asynq; the outbox keeps them and the relay retries",
					slog.Any("error", err), slog.Int("failures", failures), slog.Duration("pause", pause))
			}
		case b.Rows >= r.cfg.BatchSize:
			if failures > 0 {
				r.log.LogAttrs(ctx, slog.LevelInfo, "inbox: relay recovered", slog.Int("after_failures", failures))
			}
			failures = 0
			continue
		default:
			if failures > 0 {
				r.log.LogAttrs(ctx, slog.LevelInfo, "inbox: relay recovered", slog.Int("after_failures", failures))
			}
			failures = 0
			pause, idle = r.nextPoll(b.Rows > 0, &lastFound, idle)
			if at := r.retryAt.Load(); at != 0 {
				if until := time.Until(time.Unix(0, at)); until > 0 {
					pause = min(pause, until)
				} else {
					r.retryAt.CompareAndSwap(at, 0)
				}
			}
		}
		timer.Reset(pause)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
			// Do not let wake-ups cut a failure pause short, nor the
			// active pause after a batch of gatherRows or more: events
			// then come faster than the relay's batches, and relaying
			// each as it commits would split them into batches of one or
			// two, each paying a claim, an enqueue round and a commit (at
			// 2,000 ev/s the relay fell behind: p99 392 ms against 23
			// ms). Smaller batches mean events come a few at a time: the
			// next is relayed as it commits.
			if failures > 0 || (err == nil && b.Rows >= gatherRows) {
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			} else {
				timer.Stop() // Go 1.23+: no stale tick is left to drain
			}
		}
	}
}

// gatherRows is the batch size from which a relay stops answering each
// wake-up at once while active, and gathers for MinPollInterval instead.
const gatherRows = 4

// nextPoll returns the pause before the next poll and the empty-poll pause
// to carry on: MinPollInterval within ActivePeriod of the last batch that
// found rows, then doubling per empty poll up to PollInterval, or up to
// ListeningPollInterval while the LISTEN connection is up.
func (r *Relay) nextPoll(found bool, lastFound *time.Time, idle time.Duration) (pause, nextIdle time.Duration) {
	now := time.Now()
	if found {
		*lastFound = now
	}
	if now.Sub(*lastFound) < r.cfg.ActivePeriod {
		return r.cfg.MinPollInterval, r.cfg.MinPollInterval
	}
	ceiling := r.cfg.PollInterval
	if r.listenUp.Load() {
		ceiling = r.cfg.ListeningPollInterval
	}
	return min(idle, ceiling), min(idle*2, ceiling)
}

// noteRetry keeps the earliest time a row this relay rescheduled is due
// again, so that an idle relay polls for it then.
func (r *Relay) noteRetry(delay time.Duration) {
	at := time.Now().Add(delay).UnixNano()
	for {
		old := r.retryAt.Load()
		if old != 0 && old <= at && old > time.Now().UnixNano() {
			return
		}
		if r.retryAt.CompareAndSwap(old, at) {
			return
		}
	}
}

// backoff returns min(lo * 2^(n-1), hi).
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Drain relays batches until no row is available (rows in backoff wait),
// and returns the rows it handled. For tests and tools; a worker uses Run.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		b, err := r.RelayOnce(ctx)
		total += b.Rows
		if err != nil {
			return total, err
		}
		if b.Failed > 0 {
			return total, b.Err
		}
		if b.Rows < r.cfg.BatchSize {
			return total, nil
		}
	}
}

// Batch is what one RelayOnce did.
type Batch struct {
	Rows       int   // outbox rows claimed
	Enqueued   int   // tasks enqueued
	Duplicates int   // tasks that existed already
	Failed     int   // enqueues that failed
	Err        error // the first enqueue error, when Failed > 0
}

// job is one enqueue: one row, one inbox.
type job struct {
	row   int
	route *route
	err   error
	dup   bool
}

// RelayOnce claims one batch of available outbox rows, enqueues their
// jobs and settles the rows, in one transaction.
func (r *Relay) RelayOnce(ctx context.Context) (Batch, error) {
	var b Batch
	r.stats.polls.Add(1)
	tx := r.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return b, fmt.Errorf("inbox: relay: begin: %w", tx.Error)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()

	rows, err := tx.Raw(`SELECT id, domain, event_id, action, attempts FROM `+activity.OutboxTable+`
WHERE available_at <= now() ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, r.cfg.BatchSize).Rows()
	if err != nil {
		return b, fmt.Errorf("inbox: relay: claim: %w", err)
	}
	var batch []activity.OutboxRow
	for rows.Next() {
		var o activity.OutboxRow
		if err := rows.Scan(&o.ID, &o.Domain, &o.EventID, &o.Action, &o.Attempts); err != nil {
			rows.Close()
			return b, fmt.Errorf("inbox: relay: claim: %w", err)
		}
		batch = append(batch, o)
	}
	if err := rows.Err(); err != nil {
		return b, fmt.Errorf("inbox: relay: claim: %w", err)
	}
	rows.Close()
	b.Rows = len(batch)
	if len(batch) == 0 {
		return b, nil // the deferred rollback ends the empty transaction
	}
	// The statements below take arrays of a batch's IDs. A generic plan
	// cached while a table was small (a scan, not the index) would scan
	// it for every batch once it is large: plan each with its values.
	// And the batch's commit need not wait for the WAL flush: its jobs are
	// in Redis before it commits, and a commit lost in a crash only puts
	// the rows back, to be enqueued again under the same task IDs (refused
	// as duplicates) and delivered at most once by the ledger. The next
	// batch starts a flush sooner (1-2 ms on a cloud disk, more under load).
	//
	// On the relay's own pool both are set for its connections when they
	// open (relaySettings); on a shared pool, for this transaction: one
	// round trip more per batch.
	if r.sharedDB {
		if err := tx.Exec(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('synchronous_commit', 'off', true)`).Error; err != nil {
			return b, fmt.Errorf("inbox: relay: %w", err)
		}
	}

	// Route each row; a row of a domain this relay does not serve waits.
	var jobs []job
	rowErr := make([]string, len(batch))
	for i, o := range batch {
		if r.domains != nil && r.domains[o.Domain] == nil {
			rowErr[i] = fmt.Sprintf("domain %q is not among this relay's Domains", o.Domain)
			continue
		}
		for k := range r.routes {
			if r.routes[k].in.Accepts(o.Domain, o.Action) {
				jobs = append(jobs, job{row: i, route: &r.routes[k]})
			}
		}
	}
	events := r.loadEvents(ctx, tx, batch, jobs)
	r.enqueue(ctx, batch, jobs, events)

	var done, failed []int64
	var delays []int64
	var msgs []string
	for _, j := range jobs {
		switch {
		case j.err != nil:
			b.Failed++
			if b.Err == nil {
				b.Err = j.err
			}
			if rowErr[j.row] == "" {
				rowErr[j.row] = fmt.Sprintf("enqueue for inbox %s: %v", j.route.name, j.err)
			}
		case j.dup:
			b.Duplicates++
		default:
			b.Enqueued++
		}
	}
	unwanted := 0
	accepted := make([]bool, len(batch))
	for _, j := range jobs {
		accepted[j.row] = true
	}
	for i, o := range batch {
		if rowErr[i] != "" {
			failed = append(failed, o.ID)
			d := backoff(r.cfg.MinBackoff, r.cfg.MaxBackoff, o.Attempts+1)
			if r.domains != nil && r.domains[o.Domain] == nil {
				d = r.cfg.MaxBackoff
			}
			delays = append(delays, d.Milliseconds())
			r.noteRetry(d)
			msgs = append(msgs, truncate(rowErr[i], 1000))
			continue
		}
		if !accepted[i] {
			unwanted++
		}
		done = append(done, o.ID)
	}
	if len(done) > 0 {
		if err := r.settle(tx, batch, jobs, done); err != nil {
			return b, fmt.Errorf("inbox: relay: delete: %w", err)
		}
	}
	if len(failed) > 0 {
		if err := tx.Exec(`UPDATE `+activity.OutboxTable+` o
SET attempts = o.attempts + 1, available_at = now() + f.delay * interval '1 millisecond', last_error = f.err
FROM unnest(?::bigint[], ?::bigint[], ?::text[]) AS f(id, delay, err) WHERE o.id = f.id`, pgarray.Int8(failed), pgarray.Int8(delays), pgarray.Text(msgs)).Error; err != nil {
			return b, fmt.Errorf("inbox: relay: reschedule: %w", err)
		}
	}
	committed = true // by Commit, or given up: rolling back after a failed COMMIT does nothing
	if err := tx.Commit().Error; err != nil {
		return b, fmt.Errorf("inbox: relay: commit: %w", err)
	}
	r.log.LogAttrs(ctx, slog.LevelDebug, "inbox: relay batch", slog.Int("rows", b.Rows), slog.Int("enqueued", b.Enqueued),
		slog.Int("duplicates", b.Duplicates), slog.Int("failed", b.Failed))
	s := &r.stats
	s.batches.Add(1)
	s.rows.Add(int64(b.Rows))
	s.enqueued.Add(int64(b.Enqueued))
	s.duplicates.Add(int64(b.Duplicates))
	s.failed.Add(int64(b.Failed))
	s.deleted.Add(int64(len(done)))
	s.unwanted.Add(int64(unwanted))
	return b, nil
}

// loadEvents is the bench baseline's (internal/carryevents): it loads the
// batch's events that have jobs, one query per domain, and returns those
// small enough to carry, JSON-encoded, by ID (IDs are unique across
// domains). Outside the baseline it returns nil: jobs carry references.
func (r *Relay) loadEvents(ctx context.Context, tx *gorm.DB, batch []activity.OutboxRow, jobs []job) map[int64]json.RawMessage {
	if r.domains == nil || len(jobs) == 0 || !carryevents.On(ctx) {
		return nil
	}
	ids := map[string][]int64{}
	last := -1
	for _, j := range jobs {
		if j.row == last {
			continue
		}
		last = j.row
		o := batch[j.row]
		ids[o.Domain] = append(ids[o.Domain], o.EventID)
	}
	out := make(map[int64]json.RawMessage, len(batch))
	for name, list := range ids {
		evs, err := r.domains[name].EventsByID(activity.AcrossTenants(ctx), tx, list)
		if err != nil {
			continue // the worker loads them
		}
		for id, ev := range evs {
			b, err := json.Marshal(ev)
			if err == nil && len(b) <= carryevents.MaxEventBytes {
				out[id] = b
			}
		}
	}
	return out
}

// enqueue runs the batch's jobs on EnqueueConcurrency goroutines. Once
// enough enqueues failed with none succeeding (Redis is down), the rest
// are failed with the same error without trying.
func (r *Relay) enqueue(ctx context.Context, batch []activity.OutboxRow, jobs []job, events map[int64]json.RawMessage) {
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.EnqueueTimeout)
	defer cancel()
	var next, ok, bad atomic.Int64
	var firstErr atomic.Pointer[error]
	var downQueues sync.Map // queue -> error: one failed enqueue fails the queue's others (a Redis Cluster node down)
	workers := min(r.cfg.EnqueueConcurrency, len(jobs))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				j := &jobs[i]
				if ok.Load() == 0 && bad.Load() >= int64(workers) {
					j.err = *firstErr.Load()
					continue
				}
				o := batch[j.row]
				queue := j.route.queueFor(o.EventID)
				if e, down := downQueues.Load(queue); down { // its node failed this batch: fail fast
					j.err = e.(error)
					bad.Add(1)
					continue
				}
				ref := activity.EventRef{Domain: o.Domain, ID: o.EventID}
				task := asynq.NewTask(TaskType(j.route.name), encodePayload(payload{Domain: o.Domain, EventID: o.EventID, Action: o.Action, Backfill: r.backfill, Event: events[o.EventID]}))
				opts := make([]asynq.Option, 0, len(j.route.opts)+1)
				opts = append(append(opts, j.route.opts...), asynq.TaskID(AppTaskID(r.cfg.App, j.route.name, ref)))
				if j.route.shards > 1 {
					opts = append(opts, asynq.Queue(j.route.queueFor(o.EventID)))
				}
				_, err := r.client.EnqueueContext(ctx, task, opts...)
				switch {
				case err == nil:
					ok.Add(1)
					if r.wakeWorker != nil {
						r.wakeWorker() // the job is in Redis: take it now, not at the next poll
					}
				case errors.Is(err, asynq.ErrTaskIDConflict):
					j.dup = true
					ok.Add(1)
				default:
					j.err = err
					firstErr.CompareAndSwap(nil, &err)
					bad.Add(1)
					downQueues.Store(queue, err)
				}
			}
		}()
	}
	wg.Wait()
}
