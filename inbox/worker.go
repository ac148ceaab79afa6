package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/carryevents"
)

// Config configures a Worker. Zero fields take the documented defaults.
type Config struct {
	// DB is the app's database: events are loaded from it, the ledger and
	// the dead letters live in it, and the relay reads its outbox.
	// Required. Jobs carry references only: the worker loads each job's
	// event when it runs, the events of the jobs running at once in one
	// query, on a connection of its own (opened with Relay.DSN, else the
	// DSN DB was opened with), so an application pool saturated by writers
	// does not delay deliveries.
	DB *gorm.DB
	// Redis is the asynq Redis. Required.
	Redis asynq.RedisConnOpt
	// App namespaces the worker's queues and task IDs, so that several
	// apps (or environments) can share one Redis database: see AppQueue.
	// Default "" (none: give each app its own Redis database then).
	App string
	// Domains are the domains whose events the inboxes handle; a job's
	// event is loaded through its domain. Required. The worker's relay
	// leaves outbox rows of other domains in place (their last_error
	// says so) for a worker that has them.
	Domains []*activity.Domain
	// Inboxes are the inboxes to run. Required; names must be unique.
	Inboxes []Inbox
	// Middleware wraps every delivery, first outermost, inside the
	// worker's Logging and Metrics and outside Recover.
	Middleware []Middleware
	// Tasks serves task types of the app's or of other library packages
	// (batch.TaskType: scheduled batch flushes) on the worker's queues,
	// by exact type. Default none. Their errors reach asynq (which keeps
	// them in Redis) as inboxes' do: the task type and the kind of error,
	// never its text, which the worker logs.
	Tasks map[string]asynq.Handler

	// Concurrency is how many jobs run at once. Default 20.
	Concurrency int
	// Queues gives asynq queue priorities (weights). Every inbox's queue
	// (Policy.Queue, default DefaultQueue) is served; one missing here gets
	// priority 1. With StrictPriority, a queue is served only when the
	// higher ones are empty.
	Queues         map[string]int
	StrictPriority bool
	// ShutdownTimeout is how long Shutdown lets running jobs finish; jobs
	// still running then are handed back to their queue for another
	// worker (they run again: the ledger keeps their effects once).
	// Default 10s.
	ShutdownTimeout time.Duration
	// TaskCheckInterval is how long an idle worker waits before asking
	// Redis for jobs again: asynq polls, it does not block. asynq's
	// default, 1s, adds half a second on average to every delivery on a
	// quiet system. Measured on 2 cores (commit to inbox start at 200
	// events/s, p50/p99): 1s 492/1251 ms, 50ms 28/73, 20ms 14/33, 10ms
	// 8.9/19, 5ms 5.6/14, 2ms 3.7/9.4. Each poll is one small Lua script
	// per queue, so 5ms costs about 200 cheap Redis calls per second per
	// idle worker and queue: measured with cmd/bench (an idle worker, the
	// process and Redis together), 5ms costs 7-8% of a core, 20ms 3-3.5%,
	// 100ms 1.5-2%, each close to a bare asynq server's. That was the
	// idle cost before IdleCheckInterval: now the worker polls this often
	// only for a second after a wake-up or a job (0.5% of a core idle at
	// the defaults, measured the same way). Default
	// DefaultTaskCheckInterval (5ms).
	TaskCheckInterval time.Duration
	// IdleCheckInterval is how long an idle worker waits for a wake-up
	// before asking Redis for jobs anyway. A worker running its relay
	// does not poll Redis while idle: its relay wakes it after each
	// enqueue, and so do an outbox notification and a retry coming due;
	// for a second after one it polls every TaskCheckInterval as asynq
	// does. This is the ceiling for jobs that come without a wake-up (a
	// re-driven dead letter, another app's enqueue). Default
	// DefaultIdleCheckInterval (1s); negative, or with DisableRelay:
	// asynq's polling every TaskCheckInterval. See dequeue_gate.go.
	IdleCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often retries that are due are
	// moved back to their queue: the granularity of backoff and
	// RetryAfter. Default 1s (asynq's is 5s).
	DelayedTaskCheckInterval time.Duration

	// Relay configures the worker's relay; its DB, Redis, Inboxes,
	// Domains and Logger are the worker's. DisableRelay runs none (run a
	// relay elsewhere).
	Relay        RelayConfig
	DisableRelay bool

	// Breakers configures the circuit breakers, one per sink (see
	// BreakerConfig and InboxWithSink).
	Breakers BreakerConfig

	// StatusInterval is how often the running worker publishes its status
	// (relay, breakers) to Redis for other processes (ReadWorkerStatus).
	// Default DefaultStatusInterval; negative: never.
	StatusInterval time.Duration

	// HeldInterval is how often a worker on a Redis Cluster reports the
	// jobs it is running (HeldKey, one HSET); it also reads the relays'
	// census token every HeldInterval/10 (one HGET) and answers a new one
	// at once. After a failover the relays hand back the active jobs that
	// no worker reported. Default DefaultHeldInterval (1s); negative: never
	// (then do not run such a worker beside relays on the same cluster: a
	// failover could run its jobs twice, the ledger keeping their effects
	// once).
	HeldInterval time.Duration

	// ClaimTimeout is the ledger's claim timeout (LedgerConfig). Default
	// DefaultClaimTimeout.
	ClaimTimeout time.Duration
	// Logger receives the worker's and asynq's logs. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock (ledger rows, dead letters). Default time.Now.
	Now func() time.Time
}

// WorkerApplicationName is the application_name of the connection the
// worker loads jobs' events on, in pg_stat_activity.
const WorkerApplicationName = "tidings worker"

// loaderConns is the size of the worker's pool for loading events: its
// loader runs one batch at a time.
const loaderConns = 1

// loaderSettings returns the session settings of the loader's connection.
// It runs one statement per domain, prepared (pgx caches statements): a
// lookup by primary key, the same plan for any list of IDs. A generic plan
// saves planning it per batch, most of the query's cost.
func loaderSettings() map[string]string {
	return map[string]string{"plan_cache_mode": "force_generic_plan"}
}

// DefaultTaskCheckInterval is the default Config.TaskCheckInterval.
const DefaultTaskCheckInterval = 5 * time.Millisecond

// DefaultIdleCheckInterval is the default Config.IdleCheckInterval.
const DefaultIdleCheckInterval = time.Second

// Worker runs inboxes: an asynq server processing their jobs, and a relay
// feeding it from the outbox.
type Worker struct {
	cfg     Config
	db      *gorm.DB
	server  *asynq.Server
	gate    *dequeueGate // holds the idle server's polls until a wake-up; nil: asynq polls
	relay   *Relay
	ledger  *Ledger
	metrics *Metrics
	dead    *DeadLetters
	loader  *loader
	// the loader's own pool (DB's when loaderShared)
	loaderPool   *gorm.DB
	loaderShared bool
	carry        bool // the bench's baseline: use events jobs carry (internal/carryevents)
	inboxes      map[string]*registered
	domains      map[string]*activity.Domain
	names        []string
	dnames       []string
	log          *slog.Logger
	now          func() time.Time

	mu      sync.Mutex
	started bool
	stop    context.CancelFunc
	relayWG sync.WaitGroup
	done    completion
	// stopping is closed when Shutdown begins (Stopping); a new one per
	// Start.
	stopping atomic.Pointer[chan struct{}]

	breakers  *breakers
	news      atomic.Pointer[sinkNews] // while started: SinksKey and the release of held jobs
	strangers strangers
	statusPub *publisher    // publishes the status while started
	held      heldTasks     // the jobs running
	heldRep   *heldReporter // reports them while started, on a Redis Cluster
}

// registered is one inbox as the worker runs it.
type registered struct {
	in      Inbox
	policy  Policy
	process ProcessFunc
	sink    string // InboxWithSink's, else ""
}

// NewWorker checks cfg and returns a worker; Start or Run starts it.
func NewWorker(cfg Config) (*Worker, error) {
	if cfg.DB == nil {
		return nil, &ConfigError{Field: "Config.DB", Reason: "is nil"}
	}
	if cfg.Redis == nil {
		return nil, &ConfigError{Field: "Config.Redis", Reason: "is nil: set it to an asynq.RedisClientOpt"}
	}
	if len(cfg.Domains) == 0 {
		return nil, &ConfigError{Field: "Config.Domains", Reason: "is empty: list the domains whose events the inboxes handle"}
	}
	if len(cfg.Inboxes) == 0 {
		return nil, &ConfigError{Field: "Config.Inboxes", Reason: "is empty"}
	}
	setDefault(&cfg.Concurrency, 20)
	setDefault(&cfg.ShutdownTimeout, 10*time.Second)
	setDefault(&cfg.TaskCheckInterval, DefaultTaskCheckInterval)
	setDefault(&cfg.DelayedTaskCheckInterval, time.Second)
	setDefault(&cfg.IdleCheckInterval, DefaultIdleCheckInterval)
	setDefault(&cfg.StatusInterval, DefaultStatusInterval)
	setDefault(&cfg.HeldInterval, DefaultHeldInterval)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Worker{
		cfg: cfg, db: cfg.DB, log: cfg.Logger, now: cfg.Now,
		ledger:  NewLedger(LedgerConfig{ClaimTimeout: cfg.ClaimTimeout, Now: cfg.Now}),
		metrics: NewMetrics(),
		inboxes: map[string]*registered{},
		domains: map[string]*activity.Domain{},
	}
	w.breakers = newBreakers(cfg.Breakers, cfg.Now, cfg.Logger)
	w.breakers.onAnswered = w.sinkAnswered
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Config.Domains[%d]", i), Reason: "is nil"}
		}
		w.domains[d.Name()] = d
		w.dnames = append(w.dnames, d.Name())
	}
	if err := checkApp("Config.App", cfg.App); err != nil {
		return nil, err
	}
	queues := map[string]int{}
	for q, p := range cfg.Queues {
		queues[AppQueue(cfg.App, q)] = p
	}
	for i, in := range cfg.Inboxes {
		if in == nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Config.Inboxes[%d]", i), Reason: "is nil"}
		}
		name := in.Name()
		if err := checkName(name); err != nil {
			return nil, err
		}
		if w.inboxes[name] != nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Config.Inboxes[%d]", i), Reason: fmt.Sprintf("is named %q like another inbox: names must be unique", name)}
		}
		p := PolicyOf(in)
		if err := p.validate(name); err != nil {
			return nil, err
		}
		p.Queue = AppQueue(cfg.App, p.Queue)
		prio, ok := queues[p.Queue]
		if !ok {
			prio = 1
		}
		for _, q := range p.AllQueues() {
			if _, ok := queues[q]; !ok {
				queues[q] = prio
			}
		}
		mws := []Middleware{Logging(w.log), w.metrics.Middleware()}
		mws = append(mws, cfg.Middleware...)
		sink := ""
		if s, ok := in.(InboxWithSink); ok {
			sink = s.Sink()
		}
		mws = append(mws, depthGuard, w.outages(p, sink), Recover())
		w.inboxes[name] = &registered{in: in, policy: p, process: chain(in.Process, mws...), sink: sink}
		w.metrics.of(name) // counted from the start, at 0
		w.names = append(w.names, name)
	}
	sort.Strings(w.names)
	if !cfg.Relay.Pending.Disable {
		w.done.c = newCompleter(cfg.DB, w.log, 0)
	}
	w.dead = newDeadLetters(cfg.DB, cfg.Redis, w.policies(), cfg.Now)
	if !cfg.DisableRelay {
		rc := cfg.Relay
		rc.DB, rc.Redis, rc.Inboxes, rc.Domains, rc.Logger = cfg.DB, cfg.Redis, cfg.Inboxes, cfg.Domains, cfg.Logger
		rc.App = cfg.App
		r, err := NewRelay(rc)
		if err != nil {
			return nil, err
		}
		w.relay = r
	}
	pool, shared, err := ownPool(cfg.DB, cfg.Relay.DSN, loaderConns, WorkerApplicationName, loaderSettings())
	if err != nil {
		if w.relay != nil {
			_ = w.relay.Close()
		}
		return nil, &ConfigError{Field: "Config.Relay.DSN", Reason: err.Error()}
	}
	if shared {
		w.log.Warn("inbox: the worker loads events on the application's connection pool (DB was opened on an existing pool and Relay.DSN is empty); set Relay.DSN so that busy writers cannot delay deliveries")
	}
	w.loader = newLoader(pool, w.domains)
	w.loaderPool, w.loaderShared = pool, shared
	serverRedis := cfg.Redis
	if w.relay != nil && cfg.IdleCheckInterval > 0 {
		names := make([]string, 0, len(queues))
		for q := range queues {
			names = append(names, q)
		}
		w.gate = newDequeueGate(names, cfg.TaskCheckInterval, cfg.IdleCheckInterval)
		w.relay.wakeWorker = w.gate.Wake
		serverRedis = gatedRedis{RedisConnOpt: cfg.Redis, gate: w.gate}
	}
	w.server = asynq.NewServer(serverRedis, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   queues,
		StrictPriority:           cfg.StrictPriority,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		RetryDelayFunc:           w.retryDelay,
		ErrorHandler:             asynq.ErrorHandlerFunc(w.handleError),
		Logger:                   asynqLogger{w.log},
		LogLevel:                 asynq.InfoLevel,
		// A job handed back at a graceful stop (Stopped) spends no attempt.
		IsFailure: func(err error) bool { return !errors.Is(err, ErrStopping) },
	})
	return w, nil
}

func (w *Worker) policies() map[string]Policy {
	m := make(map[string]Policy, len(w.inboxes))
	for name, r := range w.inboxes {
		m[name] = r.policy
	}
	return m
}

// depthGuard turns activity.ErrCausationDepth into a permanent error: the
// chain was stopped on purpose, and retrying would stop it again.
func depthGuard(next ProcessFunc) ProcessFunc {
	return func(ctx context.Context, d *Delivery) error {
		err := next(ctx, d)
		if errors.Is(err, activity.ErrCausationDepth) {
			return Permanent(err)
		}
		return err
	}
}

// Ledger returns the worker's ledger.
func (w *Worker) Ledger() *Ledger { return w.ledger }

// Metrics returns the worker's delivery counters.
func (w *Worker) Metrics() *Metrics { return w.metrics }

// Relay returns the worker's relay, nil with DisableRelay.
func (w *Worker) Relay() *Relay { return w.relay }

// DeadLetters returns the failed deliveries, to list and re-drive.
func (w *Worker) DeadLetters() *DeadLetters { return w.dead }

// Start starts processing and relaying, and returns. Stop with Shutdown.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("inbox: worker already started")
	}
	w.carry = carryevents.On(ctx)
	stopping := make(chan struct{})
	w.stopping.Store(&stopping)
	w.startSinkNews()
	if err := w.server.Start(asynq.HandlerFunc(w.handle)); err != nil {
		w.stopSinkNews()
		return fmt.Errorf("inbox: start asynq server: %w", err)
	}
	w.started = true
	w.done.start(ctx)
	if w.relay != nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		w.stop = cancel
		w.relayWG.Add(1)
		go func() {
			defer w.relayWG.Done()
			_ = w.relay.Run(rctx)
		}()
	}
	if err := w.startHeld(); err != nil {
		w.log.WarnContext(ctx, "inbox: the worker's jobs will not be reported for a failover's rescue", "error", err)
	}
	if err := w.startStatus(); err != nil {
		w.log.WarnContext(ctx, "inbox: the worker's status will not be published", "error", err)
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "inbox: worker started", slog.Any("inboxes", w.names), slog.Any("domains", w.dnames),
		slog.Int("concurrency", w.cfg.Concurrency), slog.Bool("relay", w.relay != nil))
	return nil
}

// Shutdown stops the relay (its open batch rolls back), then stops taking
// jobs and waits up to ShutdownTimeout for running ones; those still
// running are handed back to their queue. It returns when all is stopped.
func (w *Worker) Shutdown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		return
	}
	// Jobs waiting for their turn give up and go back to the queue
	// (Stopping) rather than hold the shutdown until ShutdownTimeout.
	if ch := w.stopping.Load(); ch != nil {
		close(*ch)
	}
	if w.stop != nil {
		w.stop()
		w.relayWG.Wait()
	}
	w.stopStatus()
	if w.gate != nil {
		w.gate.close() // asynq's shutdown waits for its processor, which may be waiting in the gate
	}
	w.server.Shutdown()
	w.stopHeld()
	w.stopSinkNews()
	w.done.stop()
	if w.relay != nil {
		_ = w.relay.Close()
	}
	_ = closePool(w.loaderPool, w.loaderShared)
	w.dead.close()
	w.started = false
}

// Run starts the worker, waits for ctx to be done, and shuts it down.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	w.Shutdown()
	return nil
}

// retryDelay is asynq's RetryDelayFunc: an error's RetryAfter wins, then
// the inbox's Backoff. n is the number of retries so far.
//
// asynq stores the retry time in whole seconds (truncated), so a delay can
// come up to a second early; a RetryAfter is a "not before", so it is
// rounded up to the next whole second.
func (w *Worker) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, ErrStopping) {
		return 0 // handed back at a graceful stop: due at once for the next worker
	}
	if d, ok := retryAfter(err); ok {
		now := time.Now()
		at := now.Add(d)
		if at.Truncate(time.Second) != at {
			at = at.Truncate(time.Second).Add(time.Second)
		}
		return at.Sub(now)
	}
	if r := w.inboxes[inboxOfType(t.Type())]; r != nil {
		return r.policy.Backoff(n + 1)
	}
	return ExponentialBackoff(time.Second, 10*time.Minute)(n + 1)
}

func inboxOfType(typ string) string {
	if len(typ) > len(TaskTypePrefix) && typ[:len(TaskTypePrefix)] == TaskTypePrefix {
		return typ[len(TaskTypePrefix):]
	}
	return ""
}
