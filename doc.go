// Package tidings is the entry point: one Client, made from one Config,
// that wires the library for an app, as River's client does for jobs.
// Given a gorm DB, one Redis string, the app's domains and inboxes, it
// runs the worker side and serves the web side:
//
//	client, err := tidings.NewClient(tidings.Config{
//		DB: db, Redis: "127.0.0.1:6379", Domains: []*activity.Domain{orders},
//		InApp:     &tidings.InApp{Recipients: "SELECT owner_id FROM orders WHERE id = ?"},
//		Retention: &tidings.Retention{ReadNotifications: 90 * 24 * time.Hour},
//		Identity: func(r *http.Request) (web.Identity, error) {
//			return web.Identity{Person: activity.Ref{Type: "users", ID: "7"}, Tenant: int64(1)}, nil // the app's session
//		},
//	})
//	mux.Handle("/tidings/", client.Handler())
//	err = client.Serve(ctx, ":8080", mux) // until SIGTERM, then a graceful stop
//
// # The worker side
//
// Start (or Run, which also stops on SIGINT and SIGTERM) starts the relay
// (outbox rows to Redis, after commit), the inbox worker running the in-app
// inbox (Config.InApp), the rule engine (Config.Rules), webhook
// subscriptions (Config.Webhooks) and the app's own inboxes
// (Config.Inboxes), and a scheduler enqueueing the retention job
// (Config.Retention, "@daily"), partition maintenance ("@hourly", for
// partitioned domains), batch sweeps ("@every 1m", when an inbox
// batches), the periodic task of each inbox that has one (inbox.Periodic:
// an email inbox's escalations, every email.FlushPolicy.Every) and the
// app's Config.Jobs. Each scheduled job goes to the worker's own queue
// (inbox.DefaultQueue) and is served by its task handlers, so it runs on
// the first tick; it is unique per tick, so several worker processes may
// run at once. The scheduler is started with Start, never with asynq's
// Run, which would take the process's SIGTERM. Stop stops it all
// gracefully: running jobs get Config.Worker.ShutdownTimeout, and a job
// still waiting for its turn (a Slack post waiting for its thread's) goes
// back to the queue at once, without spending an attempt (inbox.Stopping).
//
// While Redis (or a node of a Redis Cluster) is down, the worker reports it
// once (its breakers, the relay's lag, the health checks), but go-redis
// also logs every failed dial of every connection ("redis: connection
// pool: failed to dial after 5 attempts", many a second) through its
// process-wide logger. go-redis has no logger per client, and the library
// never replaces the process's (redis.SetLogger is global state that
// belongs to the app): an app that wants those lines dropped or
// rate-limited calls redis.SetLogger once in main, as cmd/demo does.
//
// # The app's own inboxes
//
// The app's inboxes (Config.Inboxes: email, Slack, its own) run on the
// same worker as the in-app inbox. One that batches (email's or Slack's
// Batching, for people who chose a digest) and has no flush scheduler of
// its own gets the client's: each window is flushed at its due time by a
// task on the worker's batch queue (inbox.AppQueue(App,
// batch.DefaultQueue)), and the batch sweep (Config.SweepEvery) is the
// safety net. An email inbox with Escalation (or Digest) has its Flush
// scheduled by the client too (its inbox.Periodic task, every
// email.FlushPolicy.Every, default a minute): the app runs no RunFlush. An
// email inbox also adds the Email column of the
// preference page:
//
//	mail, err := email.NewInbox(email.InboxConfig{Name: "email", Builder: builder, Transport: sender, DB: db,
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]email.Recipient, error) {
//			return nil, nil // the event's watchers, with their addresses
//		},
//		Batching: &email.BatchingConfig{}, // no Scheduler: the client's
//	})
//	client, err := tidings.NewClient(tidings.Config{DB: db, Redis: "127.0.0.1:6379", Domains: domains,
//		InApp: &tidings.InApp{Recipients: "SELECT owner_id FROM orders WHERE id = ?"}, Inboxes: []inbox.Inbox{mail}})
//
// The app's tests can run one event through the in-app inbox without a
// worker (package inboxtest): inboxtest.Process(t, db, client.InApp(), ev).
//
// # The web side
//
// Handler is one http.Handler for everything the library shows, mounted
// once at Config.Prefix (default "/tidings"):
//
//	/tidings/notifications   the notification center: JSON API and live stream (with InApp)
//	/tidings/preferences     the person's notification preferences
//	/tidings/events          the event browser (administrators)
//	/tidings/me/data         the person's data: GET exports, POST erases (Privacy.AllowErase)
//	/tidings/operations      queues, workers, dead letters with re-drive (administrators)
//
// Config.Theme.Layout wraps every page in the app's layout; it gets the
// request, so the app can highlight the page in its navigation:
//
//	layout := func(w http.ResponseWriter, r *http.Request, p web.Page) {
//		nav := strings.TrimPrefix(r.URL.Path, "/tidings/") // "events/...", "rules/...", "preferences/"
//		nav, _, _ = strings.Cut(nav, "/")
//		fmt.Fprintf(w, "<!doctype html><title>%s</title>%s<nav data-current=%q>...</nav><main>%s</main>",
//			template.HTMLEscapeString(p.Title), p.Head, nav, p.Body)
//	}
//	client, err := tidings.NewClient(tidings.Config{DB: db, Redis: "127.0.0.1:6379", Domains: domains,
//		InApp: &tidings.InApp{Recipients: "SELECT owner_id FROM orders WHERE id = ?"},
//		Theme: web.Theme{Layout: layout, Stylesheet: "/static/app.css"}})
//
// Labels on the pages come from Config.Words: the app's locale catalog
// (keys tidings.action.<domain>.<action>, tidings.channel.<channel>) in
// the reader's language (web.Identity.Locale), else the action catalog's
// Doc.
//
// Who asks is answered once per request by Config.Identity (a
// web.Identity: person, label, tenant, admin). Middleware calls it and
// puts the answer on the request's context for every page and for
// recording: events recorded while handling the request have the person
// as actor and the person's tenant as tenant. Wrap the app's whole mux in
// it (Serve does): the pages mounted by Handler then do not ask again.
//
// # Roles and secrets
//
// A web process and a worker process make their Client from the same
// Config (Config.Role says which side Serve runs) and agree through
// PostgreSQL and Redis only. Secrets stored sealed (webhook subscriptions',
// rules' webhook secrets) are sealed with Config.Secret or Config.Keyring,
// given to every process from configuration: a Config with Rules or
// Webhooks and neither is a *ConfigError, never a random key per process
// that the other process could not open.
//
// # Tables
//
// Migrate applies the library's migrations and creates each domain's
// events table when it is missing, for apps that do not run goose
// migrations; it is idempotent and safe when several processes start at
// once. Apps with goose migrations write the table's migration with
// cmd/tidings-migration instead.
//
// The packages it wires (activity, inbox, workflow, retention, privacy,
// web/...) stay usable on their own.
package tidings
