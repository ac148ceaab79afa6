package tidings

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/retention"
	"github.com/tidingsdev/tidings/web/notifycenter"
	"github.com/tidingsdev/tidings/workflow"
)

// DefaultPrefix is where Handler expects to be mounted when Config.Prefix
// is empty.
const DefaultPrefix = "/tidings"

// Client is the system of one app: the worker side (Start, Stop, Run) and
// the web side (Handler, Middleware). A web process and a worker process
// each make one from the same Config; they agree through PostgreSQL and
// Redis only.
type Client struct {
	cfg      Config
	redisOpt asynq.RedisConnOpt
	rdb      redis.UniversalClient
	keyring  *webhook.Keyring

	batchq *asynq.Client // the batchers' flushes (useBatchScheduler)

	notify   *notify.Inbox
	rules    *workflow.Rules
	engine   *workflow.Engine
	webhooks *webhook.Subscriptions
	privacy  *privacy.Privacy
	worker   *inbox.Worker
	batchers []*batch.Batcher
	periodic []periodicTask // the periodic inboxes' tasks (inbox.Periodic)
	inboxes  []inbox.Inbox  // every inbox the worker runs
	keep     *retention.Job

	web     webSide
	webOnce sync.Once
	webErr  error

	mu       sync.Mutex
	running  *running
	stopping *running // the last one stopped, for Stops that wait on it
	closed   bool
}

// NewClient checks cfg and returns a client. It connects to nothing yet
// and starts no goroutine: Start (or Run) starts the worker side, Handler
// serves the web side.
func NewClient(cfg Config) (*Client, error) {
	if cfg.DB == nil {
		return nil, &ConfigError{Field: "DB", Reason: "is nil: pass the app's *gorm.DB (gorm.io/driver/postgres)"}
	}
	if cfg.Redis == "" && cfg.redisOpt == nil {
		return nil, &ConfigError{Field: "Redis", Reason: `is empty: give the Redis address ("127.0.0.1:6379", "redis://host:6379/2", "cluster://h1:7000,h2:7001")`}
	}
	if len(cfg.Domains) == 0 {
		return nil, &ConfigError{Field: "Domains", Reason: "is empty: list the app's domains"}
	}
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Domains[%d]", i), Reason: "is nil"}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || strings.HasSuffix(cfg.Prefix, "/") {
		return nil, &ConfigError{Field: "Prefix", Reason: fmt.Sprintf("is %q: start it with / and end it without one (\"/tidings\")", cfg.Prefix)}
	}
	switch cfg.Role {
	case RoleAll, RoleWeb, RoleWorker:
	default:
		return nil, &ConfigError{Field: "Role", Reason: fmt.Sprintf("is %q: use \"web\", \"worker\" or \"\" (both)", cfg.Role)}
	}
	c := &Client{cfg: cfg, redisOpt: cfg.redisOpt}
	if c.redisOpt == nil {
		opt, err := inbox.ParseRedis(cfg.Redis, 0)
		if err != nil {
			return nil, &ConfigError{Field: "Redis", Reason: fmt.Sprintf("is %q: %v", cfg.Redis, err)}
		}
		c.redisOpt = opt
	}
	if err := c.openKeyring(); err != nil {
		return nil, err
	}
	px, err := privacy.New(privacy.Config{Domains: cfg.Domains, Parts: cfg.Privacy.Parts, Now: cfg.Now, PersonsAcrossTenants: cfg.Privacy.PersonsAcrossTenants})
	if err != nil {
		return nil, err
	}
	c.privacy = px
	// One connection setting, two clients: asynq's (the worker, the
	// relay, the scheduler) and go-redis's (announcements, the streams).
	if c.rdb, err = inbox.RedisClient(c.redisOpt); err != nil {
		return nil, &ConfigError{Field: "Redis", Reason: err.Error()}
	}
	if err := c.makeInboxes(); err != nil {
		c.rdb.Close()
		return nil, err
	}
	c.useBatchScheduler()
	return c, nil
}

// useBatchScheduler gives the batching inboxes that have no flush
// scheduler of their own one on the client's Redis: each window's flush is
// an asynq task at its due time, on the batch queue the worker serves
// (inbox.AppQueue(App, batch.DefaultQueue)), handled by batch.Handler (see
// tasks); the sweep stays the safety net.
func (c *Client) useBatchScheduler() {
	var sched *batch.AsynqScheduler
	for _, b := range c.batchers {
		if sched == nil {
			c.batchq = asynq.NewClient(c.redisOpt)
			sched = &batch.AsynqScheduler{Client: c.batchq, Queue: inbox.AppQueue(c.cfg.App, batch.DefaultQueue)}
		}
		b.UseSchedulerIfNone(sched)
	}
}

// makeInboxes builds the in-app inbox, the rule engine and the webhook
// subscriptions the Config declares, and the worker that runs them with
// the app's own inboxes.
func (c *Client) makeInboxes() error {
	cfg := c.cfg
	var inboxes []inbox.Inbox
	if in := cfg.InApp; in != nil {
		recipients, err := c.recipientsOf(in)
		if err != nil {
			return err
		}
		announcer, err := notifycenter.NewAnnouncer(c.rdb, "")
		if err != nil {
			return err
		}
		n, err := notify.New(notify.Config{
			Name: in.Name, Accepts: in.Accepts, Recipients: recipients, RecipientType: in.RecipientType,
			Defaults: cfg.Defaults, Batching: in.Batching, Profiles: in.Profiles, Now: cfg.Now,
			Announcer: announcer,
		})
		if err != nil {
			return err
		}
		c.notify = n
		inboxes = append(inboxes, n)
	}
	if r := cfg.Rules; r != nil {
		if len(r.Schemas) == 0 {
			return &ConfigError{Field: "Rules.Schemas", Reason: "is empty: declare what rules may test (workflow.NewSchema), one per domain"}
		}
		reg := r.Registry
		if reg == nil {
			reg = workflow.NewRegistry(workflow.RegistryConfig{})
		}
		tenant := r.Tenant
		if tenant == nil {
			tenant = func(_ context.Context, _ *gorm.DB, ev activity.Event) (string, error) { return ev.TenantID, nil }
		}
		rules, err := workflow.NewRules(workflow.RulesConfig{DB: cfg.DB, Schemas: r.Schemas, Registry: reg, Tenant: tenant, Secrets: c.keyring, Now: cfg.Now})
		if err != nil {
			return err
		}
		// The engine's refreshes use a connection of their own, on the
		// relay's DSN when the DB was opened on an existing pool.
		engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, ListenDSN: cfg.Worker.Relay.DSN,
			Observers: r.Observers, Logger: cfg.Logger, Now: cfg.Now})
		if err != nil {
			return err
		}
		c.rules, c.engine = rules, engine
		inboxes = append(inboxes, engine)
	}
	if cfg.Webhooks != "" {
		subs, err := webhook.NewSubscriptions(webhook.SubscriptionsConfig{DB: cfg.DB, Keyring: c.keyring, Domains: cfg.Domains, Source: cfg.Webhooks,
			Client: cfg.WebhookClient, Now: cfg.Now})
		if err != nil {
			return err
		}
		c.webhooks = subs
		inboxes = append(inboxes, subs)
	}
	inboxes = append(inboxes, cfg.Inboxes...)
	for i, in := range cfg.Inboxes {
		if in == nil {
			return &ConfigError{Field: fmt.Sprintf("Inboxes[%d]", i), Reason: "is nil"}
		}
		if b, ok := in.(interface{ Batcher() *batch.Batcher }); ok && b.Batcher() != nil {
			c.batchers = append(c.batchers, b.Batcher())
		}
	}
	if len(inboxes) == 0 {
		return &ConfigError{Field: "InApp", Reason: "is nil and Inboxes is empty: declare where events go (InApp, Inboxes, Rules or Webhooks)"}
	}
	if err := c.checkJobs(); err != nil {
		return err
	}
	if err := c.findPeriodic(); err != nil {
		return err
	}
	c.inboxes = inboxes
	wc := cfg.Worker
	wc.DB, wc.Redis, wc.App, wc.Domains, wc.Inboxes, wc.Logger, wc.Now = cfg.DB, c.redisOpt, cfg.App, cfg.Domains, inboxes, cfg.Logger, cfg.Now
	wc.Tasks = c.tasks(wc.Tasks)
	wc.Queues = c.queues(wc.Queues)
	w, err := inbox.NewWorker(wc)
	if err != nil {
		return err
	}
	c.worker = w
	// A batching inbox's flushes go through the breaker of its sink that
	// its single deliveries go through.
	batch.UseWorkerBreakers(w, cfg.Inboxes...)
	// So do the mails an inbox sends on its own schedule (email's
	// escalations: email.Inbox.UseWorkerBreaker).
	for _, in := range cfg.Inboxes {
		if u, ok := in.(interface{ UseWorkerBreaker(*inbox.Worker) bool }); ok {
			u.UseWorkerBreaker(w)
		}
	}
	if r := cfg.Retention; r != nil {
		keep, err := retention.New(retention.Config{DB: cfg.DB, Domains: cfg.Domains,
			ReadNotifications: r.ReadNotifications, UnreadNotifications: r.UnreadNotifications,
			Deliveries: r.Deliveries, DeadLetters: r.DeadLetters, Digests: r.Digests, RunLog: r.RunLog,
			Now: cfg.Now, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		c.keep = keep
	}
	return c.checkSchedule()
}

// InApp is the in-app inbox (Config.InApp), nil without one: for the
// app's tests (inboxtest.Process) and its own pages.
func (c *Client) InApp() *notify.Inbox { return c.notify }

// Worker is the inbox worker the client runs (its relay, dead letters,
// breakers).
func (c *Client) Worker() *inbox.Worker { return c.worker }

// Inboxes are every inbox the worker runs: the in-app inbox, the rule
// engine, the webhook subscriptions and Config.Inboxes.
func (c *Client) Inboxes() []inbox.Inbox { return c.inboxes }

// NewBackfiller returns a backfiller that replays the domains' recorded
// history into one of the worker's inboxes (a new inbox catching up, a
// warehouse filled once): cfg's DB, Redis, App, Domains, Inboxes, Logger
// and Now are the client's; its Rate, BatchSize and ProgressEvery are
// cfg's (inbox.BackfillConfig). The backfill's jobs run on the worker
// side. Close the backfiller when done.
func (c *Client) NewBackfiller(cfg inbox.BackfillConfig) (*inbox.Backfiller, error) {
	cfg.DB, cfg.Redis, cfg.Client, cfg.App = c.cfg.DB, c.redisOpt, nil, c.cfg.App
	cfg.Domains, cfg.Inboxes, cfg.Logger, cfg.Now = c.cfg.Domains, c.inboxes, c.cfg.Logger, c.cfg.Now
	return inbox.NewBackfiller(cfg)
}

// Rules is the rule store, nil without Config.Rules.
func (c *Client) Rules() *workflow.Rules { return c.rules }

// Webhooks are the webhook subscriptions, nil without Config.Webhooks.
func (c *Client) Webhooks() *webhook.Subscriptions { return c.webhooks }

// Privacy exports and erases a person's data across every table.
func (c *Client) Privacy() *privacy.Privacy { return c.privacy }

// Keyring seals the app's secrets at rest; nil without Secret or Keyring.
func (c *Client) Keyring() *webhook.Keyring { return c.keyring }

// Redis is the client's connection to Config.Redis, for the app's own use;
// Close closes it.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Close stops the worker side if it runs, ends the notification center's
// open streams (call it before http.Server.Shutdown) and closes the Redis
// connections (the client's and the operations page's). The database is
// the app's to close.
func (c *Client) Close() error {
	err := c.Stop(context.Background())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return err
	}
	c.closed = true
	if c.web.center != nil {
		c.web.center.Close()
	}
	if c.web.ops != nil {
		if cerr := c.web.ops.Close(); err == nil {
			err = cerr
		}
	}
	if c.batchq != nil {
		if cerr := c.batchq.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := c.rdb.Close(); err == nil {
		err = cerr
	}
	return err
}
