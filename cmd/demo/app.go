package main

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web/feedview"
)

// App is the running demo: its database, domain, pages and the tidings
// client that runs the worker side and serves the library's pages.
type App struct {
	cfg    Config
	db     *gorm.DB
	issues *activity.Domain
	client *tidings.Client
	pages  map[string]*template.Template
	mux    *http.ServeMux
	fan    *fanout // the demo's own inboxes and the dev servers they deliver to
	live   *hub    // deliveries done in this process (tests wait on it)
	tel    *telemetry

	feedr    *feedview.Renderer
	defaults *inbox.Defaults
	hist     history // backfills, the dev webhook receiver (history.go)

	// export and erasure of a person's data (persondata.go)
	dataExport, dataErase http.Handler

	stopping chan struct{} // closed when Run returns: ends backfills
	stopOnce sync.Once
}

// NewApp connects to Redis and PostgreSQL (creating and migrating the
// database), seeds an empty database, and makes the tidings client and the
// pages. It starts no goroutine: Run does.
func NewApp(ctx context.Context, cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, live: newHub(), stopping: make(chan struct{}), feedr: newFeedRenderer(), defaults: notificationDefaults()}
	redisURL := redisURL(cfg.RedisAddr, cfg.RedisDB)
	redisOpt, err := pingRedis(ctx, redisURL, cfg.RedisAddr)
	if err != nil {
		return nil, err
	}
	if a.db, err = openDatabase(ctx, cfg.DSN); err != nil {
		return nil, err
	}
	fail := func(err error) (*App, error) { a.Close(); return nil, err }
	if err := a.startTelemetry(redisOpt); err != nil {
		return fail(err)
	}
	a.issues, err = newIssueDomain(activity.DomainConfig{Now: cfg.Now,
		Observer: activity.Observers(a.tel.metrics.Recording(), a.tel.tracing.Recording())})
	if err != nil {
		return fail(err)
	}
	if !cfg.NoSeed && cfg.Role != RoleWorker { // the web process seeds
		if err := a.seed(ctx); err != nil {
			return fail(fmt.Errorf("seed: %w", err))
		}
	}
	if err := a.startFanout(ctx); err != nil {
		return fail(err)
	}
	tc, err := a.tidingsConfig(redisURL)
	if err != nil {
		return fail(err)
	}
	if a.client, err = tidings.NewClient(tc); err != nil {
		return fail(err)
	}
	if cfg.Role != RoleWeb { // a web process runs no worker: its counters would stay 0
		if err := a.tel.metrics.Worker(a.client.Worker()); err != nil {
			return fail(err)
		}
	}
	a.startHealth(redisOpt)
	if err := a.ensureRules(ctx); err != nil {
		return fail(err)
	}
	// The History page replays the issue domain's history into the archive
	// inbox at 50 events/s (slow enough to watch).
	if a.hist.backfiller, err = a.client.NewBackfiller(inbox.BackfillConfig{Rate: 50, ProgressEvery: 2 * time.Second}); err != nil {
		return fail(err)
	}
	if err := a.mountPersonData(); err != nil {
		return fail(err)
	}
	if a.pages, err = a.parsePages(); err != nil {
		return fail(err)
	}
	a.routes()
	return a, nil
}

// Handler is the demo's web interface: the client's middleware says who
// each request is (the identity hook, once) and records under that actor
// and organisation.
func (a *App) Handler() http.Handler {
	h := a.client.Middleware(a.tel.tracing.HTTP(a.mux)) // inside the metadata: spans are named by the mux's patterns
	return http.NewCrossOriginProtection().Handler(a.withUser(h))
}

// Run runs the worker side (the relay, the inboxes, the workflow engine,
// the scheduled jobs) until ctx ends, then stops it gracefully; with -role
// web it only waits for ctx (the worker runs elsewhere).
func (a *App) Run(ctx context.Context) error {
	defer a.stopOnce.Do(func() { close(a.stopping) })
	if a.cfg.Role != RoleWeb {
		if err := a.client.Start(ctx); err != nil {
			return err
		}
		defer a.client.Stop(context.WithoutCancel(ctx))
	}
	<-ctx.Done()
	return nil
}

// Close stops the worker side and the notification center's streams, and
// releases the database and Redis connections and the dev servers.
func (a *App) Close() {
	a.stopOnce.Do(func() { close(a.stopping) })
	a.hist.wg.Wait() // backfills stop at a.stopping
	a.hist.close()
	if a.client != nil {
		a.client.Close()
	}
	a.fan.close()
	a.tel.close()
	if a.db != nil {
		if sqlDB, err := a.db.DB(); err == nil {
			sqlDB.Close()
		}
	}
}

func contextWith(ctx context.Context, k, v any) context.Context { return context.WithValue(ctx, k, v) }
