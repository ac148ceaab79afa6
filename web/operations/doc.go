// Package operations is the operations page for an app's operators, one
// http.Handler to mount: the asynq queues with their retrying and
// archived jobs (run one now), the workers' relays (LISTEN or polling,
// counters) and circuit breakers, the outbox's backlog and lag, and the
// dead letters with re-drive.
//
// It reads everything from PostgreSQL and Redis, never from process
// memory, so the web process shows what the worker process does: each
// running inbox.Worker publishes its relay's and breakers' state to Redis
// (inbox.ReadWorkerStatus), and a page that hears from no worker says
// that nothing is being delivered rather than guessing.
//
// Only an admin (web.Identity.Admin) may see it. A tenant's admin sees and
// acts on the jobs and dead letters of their tenant's events only, and the
// outbox backlog of their tenant's events; an admin without a tenant is an
// operator and sees everything (queue sizes are totals for both):
//
//	ops, err := operations.New(operations.Config{
//		DB: db, Redis: asynq.RedisClientOpt{Addr: "127.0.0.1:6379"},
//		Domains: []*activity.Domain{issues}, Prefix: "/admin/operations",
//		Theme:   web.Theme{Layout: appLayout},
//	})
//	mux.Handle("/admin/operations/", web.Middleware(identify, nil)(ops))
//
// # In the reader's words
//
// Every text of the page (headings, column names, buttons, empty lists,
// notices, refusals) is a key of Messages, "operations.title",
// "operations.col.queue", "operations.run_now", ... with its English
// default; a breaker's state is "operations.breaker.<state>". The page
// speaks the reader's locale (web.Identity.Locale, else Accept-Language)
// through Config.Words: the app's locale catalog translates or rewords
// any key, and English fills the rest:
//
//	cat, _ := locale.New("en", "de")
//	cat.Set("de", "operations.queues", "Warteschlangen")
//	cat.Set("de", "operations.outbox", "Ausgang: %d Ereignisse warten auf das Relay.")
//	ops, err := operations.New(operations.Config{DB: db, Redis: redisOpt, Domains: []*activity.Domain{issues},
//		Words: web.Words{Catalog: cat}})
//
// Relative times and stamps are said by the keys of web.TimeMessages;
// queue, worker and job names, sinks and errors are shown as they are.
//
// Protect the POST routes against cross-site requests as the app's other
// forms are (http.CrossOriginProtection around the mux).
package operations
