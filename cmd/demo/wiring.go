package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/operations"
	"github.com/tidingsdev/tidings/web/preferences"
	"github.com/tidingsdev/tidings/workflow"
)

// Where the library's pages are: the client's handler, mounted once at
// tidingsPrefix (routes.go).
const (
	tidingsPrefix = tidings.DefaultPrefix
	eventsPrefix  = tidingsPrefix + tidings.EventsPath
	centerPrefix  = tidingsPrefix + tidings.NotificationsPath
	prefsPrefix   = tidingsPrefix + tidings.PreferencesPath
	rulesPrefix   = tidingsPrefix + tidings.RulesPath
	opsPrefix     = tidingsPrefix + tidings.OperationsPath
)

// tidingsConfig is the demo's whole system for tidings.NewClient: the
// issue domain, the in-app inbox, the demo's own inboxes (email, Slack,
// the Slack digest, the archive), its rules, webhook subscriptions, the
// jobs the worker schedules, and how the pages look and who asks.
func (a *App) tidingsConfig(redis string) (tidings.Config, error) {
	reg, err := a.ruleRegistry()
	if err != nil {
		return tidings.Config{}, err
	}
	schema, err := a.newRuleSchema()
	if err != nil {
		return tidings.Config{}, err
	}
	keys, err := a.keyring()
	if err != nil {
		return tidings.Config{}, err
	}
	hooks, err := a.webhookClient()
	if err != nil {
		return tidings.Config{}, err
	}
	const day = 24 * time.Hour
	return tidings.Config{
		DB: a.db, Redis: redis, App: a.cfg.App, Domains: []*activity.Domain{a.issues},
		InApp: &tidings.InApp{Name: inboxNotify, Accepts: quietFilter(a.issues), Batching: true, Profiles: a.profiles,
			Recipients: "SELECT user_id FROM subscribers WHERE issue_id = ? ORDER BY user_id"}, // author, assignee, commenters
		Inboxes:  append(a.fan.inboxes, a.hist.archive),
		Defaults: a.defaults,
		Rules: &tidings.Rules{Schemas: []*workflow.Schema{schema}, Registry: reg,
			Observers: []workflow.Observer{a.tel.metrics.Workflow(), a.tel.tracing.Workflow()}},
		Webhooks: "/tidings/demo", WebhookClient: hooks, Keyring: keys,
		Retention: &tidings.Retention{Every: every(a.cfg.RetentionEvery), ReadNotifications: 90 * day, UnreadNotifications: 365 * day,
			Deliveries: 180 * day, DeadLetters: 90 * day, Digests: 30 * day, RunLog: 90 * day},
		Jobs: []tidings.Job{{Name: ActionNoActivity, Every: every(a.cfg.StaleEvery), Run: func(ctx context.Context) error {
			_, err := a.recordStale(ctx)
			return err
		}}},
		Identity: a.identity, Theme: web.Theme{Layout: a.layout}, Words: web.Words{Catalog: a.fan.catalog},
		Privacy:  tidings.PrivacyConfig{Parts: []privacy.Part{usersPart}},
		Describe: a.describeNotifications, Subjects: a.subjects, Feed: a.feedr, People: a.whoName, Home: "/notifications",
		// Each person picks, per channel, each event at once or a digest
		// at 08:00 their time (in the app: one row per burst until then).
		Deliveries:      []preferences.DeliveryOption{{Label: "Immediately", Choice: inbox.ImmediateChoice}, {Label: "Daily digest at 08:00", Choice: dailyDigest}},
		OperationsLinks: []operations.Link{{Label: "Prometheus metrics", Href: "/metrics"}, {Label: "health (JSON)", Href: "/healthz"}},
		StreamOpened:    a.tel.metrics.PushConnected,
		Push:            a.fan.push,
		Worker: inbox.Config{
			Middleware: []inbox.Middleware{a.tel.tracing.Delivery(), a.tel.metrics.Delivery(), a.live.middleware},
			// The engine's jobs are in the default queue: a rule's reply
			// shows up as soon as the comment's notifications do.
			Queues:          map[string]int{inbox.DefaultQueue: 6, email.DefaultQueue: 2, slackinbox.DefaultQueue: 2, webhook.DefaultSubscriptionsQueue: 1},
			ShutdownTimeout: 3 * time.Second,
			Relay:           inbox.RelayConfig{DSN: a.cfg.DSN}, // its own pool and LISTEN connection, off the app's pool
		},
		Logger: a.fan.logger, Now: a.cfg.Now,
	}, nil
}

// every is a cron spec running every d.
func every(d time.Duration) string { return "@every " + d.String() }

// redisURL is the demo's -redis and -redis-db as one tidings.Config.Redis
// string.
func redisURL(addr string, db int) string {
	if db == 0 || strings.Contains(addr, "://") || strings.Contains(addr, ",") {
		return addr
	}
	return fmt.Sprintf("redis://%s/%d", addr, db)
}

// pingRedis returns the connection setting of url (one server or a
// cluster), for the demo's metrics and health check, once Redis answered;
// one that does not answer is a *ServiceError.
func pingRedis(ctx context.Context, url, addr string) (asynq.RedisConnOpt, error) {
	opt, err := inbox.ParseRedis(url, 0)
	if err != nil {
		return nil, err
	}
	rdb, err := inbox.RedisClient(opt)
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if unreachable(err) {
			return nil, &ServiceError{Service: "Redis", Addr: addr, Hint: redisHint, Err: err}
		}
		return nil, fmt.Errorf("Redis at %s: %w", addr, err)
	}
	return opt, nil
}

// identity answers "who is this request" for the library's pages and for
// recording (tidings.Config.Identity, asked once per request): the current
// user (loaded by withUser; without a session, the first user, as on every
// page of the demo), their organisation, and whether they administer it:
// the demo has no roles, so anyone with a session does (without one, the
// event browser refuses).
func (a *App) identity(r *http.Request) (web.Identity, error) {
	u := a.currentUser(r)
	if u == nil {
		return web.Identity{}, nil
	}
	c, err := r.Cookie(userCookie)
	session := err == nil && c.Value == strconv.FormatInt(u.ID, 10)
	return web.Identity{Person: activity.Ref{Type: "users", ID: strconv.FormatInt(u.ID, 10), Label: u.Name}, Label: u.Name,
		Tenant: u.OrgID, Admin: session, Locale: u.Locale}, nil
}

// navOf is the navigation entry of a library page, highlighted in the
// layout.
var navOf = map[string]string{
	eventsPrefix: "events", prefsPrefix: "notifications", rulesPrefix: "rules", opsPrefix: "monitoring",
}

// layout wraps a library page in the demo's own layout (header, switcher,
// navigation with the page's entry highlighted).
func (a *App) layout(w http.ResponseWriter, r *http.Request, p web.Page) {
	nav := ""
	for prefix, n := range navOf {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			nav = n
		}
	}
	a.render(w, r, p.Status, "mounted", p.Title, nav, p)
}

// subjects names issues on the library's pages, with links.
func (a *App) subjects(ctx context.Context, _ string, ids []string) (map[string]tidings.Subject, error) {
	titles, err := a.titlesOf(ctx, parseIDs(ids))
	out := make(map[string]tidings.Subject, len(titles))
	for id, t := range titles {
		out[id] = tidings.Subject{Label: t, Href: "/issues/" + id}
	}
	return out, err
}

// whoName names who saved a rule: "users:3" is that user's name; the
// demo's code ("app:demo") says so.
func (a *App) whoName(ctx context.Context, by string) string {
	if id, ok := strings.CutPrefix(by, "users:"); ok {
		var u User
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && a.db.WithContext(ctx).Take(&u, n).Error == nil {
			return u.Name
		}
	}
	if by == "app:demo" {
		return "the demo's code"
	}
	return ""
}
