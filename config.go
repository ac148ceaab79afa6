package tidings

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/web/notifycenter"
	"github.com/tidingsdev/tidings/web/operations"
	"github.com/tidingsdev/tidings/web/preferences"
	"github.com/tidingsdev/tidings/workflow"
)

// ErrInvalidConfig is returned (inside a *ConfigError) by NewClient.
var ErrInvalidConfig = errors.New("tidings: invalid configuration")

// ConfigError names the Config field that is wrong and what to do.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string { return "tidings: Config." + e.Field + " " + e.Reason }

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Config is the whole system of an app: its database and Redis, its
// domains and inboxes, the jobs to schedule and the web pages to mount.
// Web and worker processes of one app take the same Config. Zero fields
// take the documented defaults.
type Config struct {
	// DB is the app's database, opened with gorm.io/driver/postgres. The
	// library's tables and the domains' events tables live in it (see
	// Migrate). Required.
	DB *gorm.DB
	// Redis is where jobs are queued and live notifications announced, in
	// one string: "127.0.0.1:6379", "redis://:password@host:6379/2",
	// "rediss://host:6380/0" (TLS) or "cluster://h1:7000,h2:7001".
	// Required.
	Redis string
	// App namespaces queues and task IDs, so several apps (or
	// environments) can share one Redis database (inbox.Config.App).
	// Default "": give the app a Redis database of its own.
	App string
	// Domains are the app's domains. Required.
	Domains []*activity.Domain
	// Inboxes are the app's own inboxes (email, Slack, webhooks, its
	// own), run by the worker next to the in-app inbox and the rule
	// engine that InApp and Rules declare. The worker's scheduler runs
	// the periodic task of each that has one (inbox.Periodic: an email
	// inbox's escalations and old-table digests, every
	// email.FlushPolicy.Every) on the worker's default queue, unique while
	// it waits or runs, as Jobs; and the batch sweep of each that batches.
	// Default none.
	Inboxes []inbox.Inbox
	// InApp declares the in-app inbox: who hears of which events. It
	// runs in the worker, announces each delivery on Redis, and the
	// notification center (Handler) lists and streams it. Default nil: no
	// in-app notifications.
	InApp *InApp
	// Defaults are the app's defaults and critical kinds of
	// notifications, given to the in-app inbox and the preference page
	// alike. Default nil: every kind on, nothing critical.
	Defaults *inbox.Defaults
	// Rules turns on user-configured workflow rules: their engine runs as
	// one more inbox of the worker and the rule editor is mounted. It
	// needs Secret or Keyring (a rule's webhook secret is sealed).
	// Default nil: no rules.
	Rules *Rules
	// Webhooks turns on webhook subscriptions to the domains' events
	// (inbox/webhook), delivered as signed CloudEvents from Source ("/myapp").
	// It needs Secret or Keyring. Default "": none.
	Webhooks string
	// WebhookClient posts the webhook deliveries (Webhooks). Default
	// webhook.NewClient(webhook.Config{}): https to public addresses only;
	// give one whose CheckAddr admits a receiver on a private network.
	WebhookClient *webhook.Client

	// Secret seals secrets at rest (webhook subscriptions' and rules'
	// secrets): at least 32 bytes, the same in every process of the app,
	// kept outside the database (an environment variable). Required when
	// Rules or Webhooks are set, unless Keyring is. A missing secret is a
	// ConfigError, never a random per-process one: a secret sealed by the
	// web process must open in the worker.
	Secret string
	// Keyring, when set, is used instead of Secret (key rotation: see
	// webhook.NewKeyring).
	Keyring *webhook.Keyring

	// Retention is the retention job the worker schedules (package
	// retention). Default nil: nothing is pruned.
	Retention *Retention
	// MaintainEvery is the cron spec of partition maintenance (each
	// partitioned domain's Maintain: partitions ahead, expired ones
	// dropped). Default "@hourly" when a domain is partitioned; "-" runs
	// none.
	MaintainEvery string
	// SweepEvery is the cron spec of the batch sweep, the safety net that
	// flushes batch windows whose scheduled flush Redis lost. Default
	// "@every 1m" when an inbox batches; "-" runs none.
	SweepEvery string
	// Jobs are the app's own periodic jobs (a reminder, a clean-up),
	// scheduled and run by the worker next to the library's: each tick
	// enqueues one task on the worker's default queue, unique while it
	// waits or runs, so the schedulers of several worker processes do not
	// pile it up (make Run safe to run twice). Default none.
	Jobs []Job

	// Identity says who a request is (person, label, tenant, admin), once
	// per request, for every mounted page and for recording (Middleware).
	// Default nil: the pages refuse every request and events recorded in
	// requests have no actor.
	Identity web.IdentityFunc
	// Prefix is where Handler is mounted, without a trailing slash:
	// mux.Handle(Prefix+"/", client.Handler()). Default "/tidings".
	Prefix string
	// Theme gives the mounted pages the app's look: its layout around
	// them and its stylesheet after the default one (web.Theme). Default:
	// a bare page with the default stylesheet.
	Theme web.Theme
	// Words says every text of the mounted pages and names domains,
	// actions and channels in the reader's language (web.Words: the app's
	// locale catalog over each page's English Messages, then the action
	// catalog; see package web). Default: English.
	Words web.Words
	// Privacy configures the person's data page (Prefix + "/me/data":
	// GET exports, POST erases when AllowErase). Default: export only,
	// of the library's tables.
	Privacy PrivacyConfig
	// Describe gives notifications a sentence and a link in the
	// notification center. Default nil: the action's name.
	Describe notifycenter.DescribeFunc
	// Subjects names and links the subjects of events on the mounted
	// pages: the event browser, the rule editor's dry run and run log,
	// and the muted subjects of the preference page. Default: "#key", no
	// link.
	Subjects SubjectsFunc
	// Feed renders events as sentences on the event browser and in the
	// rule editor's dry run (web/feedview). Default: a renderer naming
	// each action.
	Feed *feedview.Renderer
	// People names who saved a rule on the rule editor, from its saver
	// ("users:3" -> "Ana"). Default: see rules.Config.People.
	People func(ctx context.Context, by string) string
	// Home is a link back to the app in the header of the event browser
	// and the preference page. Default none.
	Home string
	// Deliveries are the ways a person may pick, per channel, on the
	// preference page (immediately, a daily digest: see
	// preferences.Config.Deliveries), honoured by inboxes with batching
	// on. Default none: no such row.
	Deliveries []preferences.DeliveryOption
	// OperationsLinks are shown at the top of the operations page (the
	// app's metrics, its health check). Default none.
	OperationsLinks []operations.Link
	// StreamOpened, when set, is called as each notification stream opens,
	// and the function it returns as it closes: a metrics hook (observe's
	// Metrics.PushConnected). Default nil.
	StreamOpened func() (closed func())
	// Push offers "notify me on this browser" on the notification center
	// (with InApp): its service worker, its client script and the routes
	// storing each browser's push subscription for the person
	// (notifycenter.PushConfig). The app's web push inbox (inbox/webpush,
	// in Inboxes) pushes with the VAPID key pair whose public key this is.
	// Default nil: no push routes.
	Push *notifycenter.PushConfig
	// Worker tunes the worker (concurrency, queues, middleware, the app's
	// own task handlers, shutdown timeout, relay); its DB, Redis, App,
	// Domains, Inboxes, Logger and Now are the Config's. Default: inbox
	// defaults.
	Worker inbox.Config
	// Role is what Serve runs in this process: RoleAll (the default) the
	// web side and the worker side, RoleWeb the web side only, RoleWorker
	// the worker side only. Web and worker processes share what they must
	// through PostgreSQL and Redis (and Secret).
	Role Role
	// IgnoreSignals makes Run stop only when its context ends. Default
	// false: Run also stops, gracefully, on SIGINT and SIGTERM.
	IgnoreSignals bool

	// Logger receives the logs of every part. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// redisOpt is set by tests to a connection made elsewhere.
	redisOpt asynq.RedisConnOpt
}

// Role is what a process runs: see Config.Role.
type Role string

// The roles of a process.
const (
	RoleAll    Role = ""
	RoleWeb    Role = "web"
	RoleWorker Role = "worker"
)

// InApp declares the in-app inbox (package inbox/notify).
type InApp struct {
	// Name is the inbox's name, part of task IDs and ledger rows.
	// Default "notify".
	Name string
	// Accepts selects the events notified of. Default: every event of
	// every domain.
	Accepts inbox.Filter
	// Recipients is an SQL query giving who hears of an event: its one
	// parameter (?) is the event's subject key, typed as the domain
	// declares it (no ::bigint cast needed); its first column are the
	// recipients' keys, of any type ("SELECT owner_id FROM orders WHERE id
	// = ?"). The event's actor is dropped. Required unless RecipientsFunc
	// is set.
	Recipients string
	// RecipientsFunc, when set, is used instead of Recipients: the keys,
	// of any type (int64, string, uuid), of who hears of ev.
	RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]any, error)
	// RecipientType is the actor type recipients are keys of (their
	// web.Identity's Person.Type). Default "users".
	RecipientType string
	// Batching collapses bursts per (subject, action) for people who
	// chose a batched delivery. Default false.
	Batching bool
	// Profiles gives recipients' language and time zone, for batched
	// notifications worded in it and windows on their clock ("daily at
	// 08:00" theirs). Default: the fallback locale and UTC for everyone.
	Profiles inbox.ProfilesFunc
}

// Rules turns on user-configured workflow rules.
type Rules struct {
	// Schemas declare what rules may test, one per domain. Required.
	Schemas []*workflow.Schema
	// Registry holds the actions rules may use. Default
	// workflow.NewRegistry(workflow.RegistryConfig{}): record_event,
	// notify and webhook.
	Registry *workflow.Registry
	// Tenant tells an event's tenant, for rules scoped to a tenant.
	// Default: the event's own tenant (activity.Event.TenantID).
	Tenant workflow.TenantFunc
	// Observers watch rule verdicts and action runs: metrics, tracing
	// (package observe). Default none.
	Observers []workflow.Observer
}

// Job is one of the app's periodic jobs (Config.Jobs).
type Job struct {
	// Name names the job in logs and in its task type (JobTaskType).
	// Required, unique among Jobs.
	Name string
	// Every is its cron spec: "@every 1m", "@hourly", "30 3 * * *".
	// Required.
	Every string
	// Run does the work of one tick. An error is logged and the tick is
	// retried once. Required.
	Run func(ctx context.Context) error
}

// Subject is a subject as the mounted pages show it: its label and a
// link into the app ("" for none).
type Subject struct {
	Label, Href string
}

// SubjectsFunc names subjects for the mounted pages: for each key of
// domain, a label and a link. Keys it leaves out show as "#key" (deleted
// subjects, on the event browser).
type SubjectsFunc func(ctx context.Context, domain string, keys []string) (map[string]Subject, error)

// Retention says how long the library keeps what it fills, and when the
// worker prunes it (package retention). Zero durations keep forever;
// the domains' events follow their own DomainConfig.Retention.
type Retention struct {
	// Every is the cron spec of the job ("@daily", "30 3 * * *").
	// Default "@daily".
	Every string
	// ReadNotifications, UnreadNotifications, Deliveries, DeadLetters,
	// Digests and RunLog are retention.Config's.
	ReadNotifications, UnreadNotifications   time.Duration
	Deliveries, DeadLetters, Digests, RunLog time.Duration
}

// PrivacyConfig configures the person's data page.
type PrivacyConfig struct {
	// Parts are the app's own tables to export and erase with the
	// library's (privacy.Part). Default none.
	Parts []privacy.Part
	// AllowErase lets a person erase their own data with POST. Default
	// false: export only.
	AllowErase bool
	// PersonsAcrossTenants says the app's person ids are global across its
	// tenants (privacy.Config.PersonsAcrossTenants): the page exports and
	// erases the person's rows of every tenant. Default false: a person is
	// an identity within their tenant, and only that tenant's rows are
	// reached.
	PersonsAcrossTenants bool
}
