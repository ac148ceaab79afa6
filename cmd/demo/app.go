package main

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/web/notifycenter"
	"github.com/tidingsdev/tidings/web/operations"
	"github.com/tidingsdev/tidings/web/preferences"
	"github.com/tidingsdev/tidings/web/rules"
	"github.com/tidingsdev/tidings/workflow"
)

// App is the running demo: its database, domain, pages and background jobs.
type App struct {
	cfg    Config
	db     *gorm.DB
	issues *activity.Domain
	redis  redis.UniversalClient
	pages  map[string]*template.Template
	mux    *http.ServeMux
	fan    *fanout
	live   *hub // deliveries done in this process (tests wait on it)
	rules  *workflow.Rules
	engine *workflow.Engine
	tel    *telemetry

	feedr    *feedview.Renderer
	defaults *inbox.Defaults
	browser  *eventbrowser.Browser
	center   *notifycenter.Center
	prefs    *preferences.Page
	// the rule editor and the operations page (mounted.go)
	ruleEditor *rules.Editor
	ops        *operations.Page
	hist       history // backfills, projections, corrections, webhook subscriptions (history.go)

	// export and erasure of a person's data (persondata.go)
	privacy               *privacy.Privacy
	dataExport, dataErase http.Handler

	stopping chan struct{} // closed when Run returns: ends event streams
	stopOnce sync.Once
}

// NewApp connects to PostgreSQL (creating and migrating the database) and
// Redis, seeds an empty database, and prepares the web pages. It starts no
// goroutine: Run does.
func NewApp(ctx context.Context, cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, live: newHub(), stopping: make(chan struct{}), feedr: newFeedRenderer(), defaults: notificationDefaults()}
	var err error
	redisOpt, err := inbox.ParseRedis(cfg.RedisAddr, cfg.RedisDB) // one server or a cluster
	if err != nil {
		return nil, err
	}
	if a.redis, err = inbox.RedisClient(redisOpt); err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = a.redis.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		a.redis.Close()
		if unreachable(err) {
			return nil, &ServiceError{Service: "Redis", Addr: cfg.RedisAddr, Hint: redisHint, Err: err}
		}
		return nil, fmt.Errorf("Redis at %s: %w", cfg.RedisAddr, err)
	}
	a.db, err = openDatabase(ctx, cfg.DSN)
	if err != nil {
		a.redis.Close()
		return nil, err
	}
	if err := a.startTelemetry(); err != nil {
		a.Close()
		return nil, err
	}
	a.issues, err = newIssueDomain(activity.DomainConfig{Now: cfg.Now,
		Observer: activity.Observers(a.tel.metrics.Recording(), a.tel.tracing.Recording())})
	if err != nil {
		a.Close()
		return nil, err
	}
	if !cfg.NoSeed && cfg.Role != RoleWorker { // the web process seeds
		if err := a.seed(ctx); err != nil {
			a.Close()
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if err := a.startFanout(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.startHealth()
	if err := a.ensureRules(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.mountWebParts(); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.mountAdminPages(); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.mountPersonData(); err != nil {
		a.Close()
		return nil, err
	}
	if a.pages, err = a.parsePages(); err != nil {
		a.Close()
		return nil, err
	}
	a.routes()
	return a, nil
}

// Handler is the demo's web interface.
func (a *App) Handler() http.Handler {
	h := activity.Middleware(activity.MiddlewareConfig{Actor: func(r *http.Request) any {
		if u := a.currentUser(r); u != nil {
			return u
		}
		return nil
	}, Tenant: func(r *http.Request) any {
		// The signed-in person's organisation: every event recorded and
		// every read made (the issue domain's, the notification center's,
		// preferences, rules) is that organisation's.
		if u := a.currentUser(r); u != nil {
			return u.OrgID
		}
		return nil
	}})(a.tel.tracing.HTTP(a.mux)) // inside the metadata: spans are named by the mux's patterns
	return http.NewCrossOriginProtection().Handler(a.withUser(h))
}

// Run runs the relay, the asynq worker and the no_activity job until ctx
// ends; with -role web it only waits for ctx (the worker runs elsewhere).
func (a *App) Run(ctx context.Context) error {
	defer a.stopOnce.Do(func() { close(a.stopping) })
	if a.cfg.Role == RoleWeb {
		<-ctx.Done()
		return nil
	}
	// The engine must know which actions have rules before the relay
	// hands out events.
	if err := a.engine.Refresh(ctx); err != nil {
		return err
	}
	engineDone := make(chan struct{})
	engineCtx, stopEngine := context.WithCancel(ctx)
	go func() { defer close(engineDone); a.engine.Run(engineCtx) }()
	defer func() { stopEngine(); <-engineDone }()
	if err := a.fan.worker.Start(ctx); err != nil {
		return err
	}
	defer a.fan.worker.Shutdown()
	sweepDone := a.fan.sweep(ctx) // batch windows whose scheduled flush was lost
	defer func() { <-sweepDone }()
	keep, err := a.retentionJob()
	if err != nil {
		return err
	}
	t := time.NewTicker(a.cfg.StaleEvery)
	defer t.Stop()
	prune := time.NewTicker(a.cfg.RetentionEvery)
	defer prune.Stop()
	for {
		if _, err := a.recordStale(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log("no_activity job: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-prune.C:
			if _, err := keep.Run(ctx); err != nil && ctx.Err() == nil {
				a.cfg.Log("retention job: %v", err)
			}
		}
	}
}

// Close releases the database and Redis connections and stops the dev
// servers.
func (a *App) Close() {
	a.stopOnce.Do(func() { close(a.stopping) })
	if a.center != nil {
		a.center.Close()
	}
	if a.ops != nil {
		a.ops.Close()
	}
	a.hist.wg.Wait() // backfills stop at a.stopping
	a.hist.close()
	a.fan.close()
	a.tel.close()
	if a.db != nil {
		if sqlDB, err := a.db.DB(); err == nil {
			sqlDB.Close()
		}
	}
	if a.redis != nil {
		a.redis.Close()
	}
}

func contextWith(ctx context.Context, k, v any) context.Context { return context.WithValue(ctx, k, v) }
