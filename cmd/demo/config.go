package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/inbox/webhook"
)

// Config is the demo's configuration. Zero fields take the defaults
// documented on each; flags and TIDINGS_DEMO_* environment variables set it.
type Config struct {
	// DSN is the PostgreSQL database. The database is created when
	// missing. Default DefaultDSN.
	DSN string
	// RedisAddr is Redis's host:port, a redis:// URL, or a Redis Cluster's
	// nodes ("cluster://h1:7000,h2:7001", or several comma-separated
	// host:port): see inbox.ParseRedis. Default 127.0.0.1:6379.
	RedisAddr string
	// RedisDB is the Redis database number. Default 0.
	RedisDB int
	// App namespaces the demo's queues and task IDs (inbox.Config.App), so
	// several demos or environments can share one Redis database (or a
	// Redis Cluster). Default "" (none).
	App string
	// Addr is the web server's listen address. Default 127.0.0.1:8080.
	Addr string
	// Role is what this process runs: RoleWeb (the pages and the
	// notification center), RoleWorker (the relay, the inboxes, the
	// workflow engine and the no_activity job) or RoleAll (both).
	// Default RoleAll.
	Role string
	// MetricsAddr is where a RoleWorker process serves /metrics and
	// /healthz (a worker serves no pages). Default: none.
	MetricsAddr string
	// BaseURL is the demo's address as browsers reach it, for links in
	// mail. Default "http://" + Addr.
	BaseURL string
	// Dev runs the in-process SMTP server and fake Slack API and shows
	// what they received. Default true (set NoDev to turn it off).
	NoDev bool
	// SMTPAddr is a real SMTP server (host:port) used when NoDev is set.
	SMTPAddr string
	// SMTPTLS is its TLS policy: mandatory (default), opportunistic,
	// implicit or none. SMTPUser and SMTPPassword log in (SMTP AUTH) with
	// mechanism SMTPAuth (default: the strongest offered). The settings
	// are checked against the server's EHLO answer at start.
	SMTPTLS, SMTPUser, SMTPPassword, SMTPAuth string
	// SlackURL and SlackToken reach a real Slack API when NoDev is set.
	SlackURL, SlackToken string
	// Secret signs the one-click unsubscribe links in mail and seals the
	// secrets kept in the database (webhook subscriptions', rules'): at
	// least 32 bytes, the same in every process of the demo (-role web
	// and -role worker), so what the web process sealed opens in the
	// worker. Default: derived from DSN (devSecret), the same for every
	// process of one database and across restarts; a dev default only:
	// anyone who knows the DSN can derive it, so give -secret in
	// production.
	Secret []byte
	// WebhookReceiver is one more webhook receiver the webhook client may
	// reach although its address is not public: host:port, with
	// WebhookCA, a PEM file of the certificate it serves (a receiver on
	// this machine, outside the demo, that both processes trust). Default:
	// none (in dev mode, only the process's own receiver).
	WebhookReceiver, WebhookCA string
	// VAPIDPublic and VAPIDPrivate are the key pair web pushes are
	// signed with (webpush.GenerateVAPIDKeys; base64url). Default: a pair
	// derived from Secret, for development only.
	VAPIDPublic, VAPIDPrivate string
	// Seed fills an empty database with users, projects and issues.
	// Default true (set NoSeed to turn it off).
	NoSeed bool
	// StaleAfter is how long an open issue may go without activity before
	// the no_activity job records an event. Default 72h.
	StaleAfter time.Duration
	// StaleEvery is how often the no_activity job looks. Default 1 minute.
	StaleEvery time.Duration
	// RetentionEvery is how often the worker runs the retention job
	// (package retention). Default 1 hour.
	RetentionEvery time.Duration
	// WriteCatalog, when set, makes the command write the event catalog
	// there and exit.
	WriteCatalog string
	// FeedPageSize is how many events a feed page shows. Default 20.
	FeedPageSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives progress lines. Default: discard.
	Log func(format string, args ...any)
	// TracerProvider receives the spans of requests, recordings and
	// deliveries. Default: OpenTelemetry's global provider (a no-op
	// unless the program sets one).
	TracerProvider trace.TracerProvider

	// pushClient posts web pushes; tests give one that reaches their
	// local push service. Default: https to public addresses only.
	pushClient *webhook.Client
}

// The processes the demo runs as (-role).
const (
	RoleAll    = "all"
	RoleWeb    = "web"
	RoleWorker = "worker"
)

// DefaultDSN is the demo's database unless configured.
const DefaultDSN = "host=127.0.0.1 port=5432 user=postgres dbname=tidings_demo sslmode=disable"

func (c Config) withDefaults() Config {
	if c.DSN == "" {
		c.DSN = DefaultDSN
	}
	if c.RedisAddr == "" {
		c.RedisAddr = "127.0.0.1:6379"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Role == "" {
		c.Role = RoleAll
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	if len(c.Secret) == 0 {
		c.Secret = devSecret(c.DSN)
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 72 * time.Hour
	}
	if c.StaleEvery == 0 {
		c.StaleEvery = time.Minute
	}
	if c.RetentionEvery == 0 {
		c.RetentionEvery = time.Hour
	}
	if c.FeedPageSize == 0 {
		c.FeedPageSize = 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
	return c
}

// devSecret is the demo's default secret: a hash of the DSN, so every
// process of one demo database (web and worker) derives the same one
// without configuration, and a restart keeps what was sealed openable. Not
// secret to anyone who knows the DSN: a development default.
func devSecret(dsn string) []byte {
	sum := sha256.Sum256([]byte("tidings-demo dev secret\x00" + dsn))
	return sum[:]
}

// parseConfig reads flags, with TIDINGS_DEMO_* environment variables as
// their defaults.
func parseConfig(args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv("TIDINGS_DEMO_" + name); v != "" {
			return v
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		if v := getenv("TIDINGS_DEMO_" + name); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				return d
			}
		}
		return def
	}
	envBool := func(name string) bool {
		b, _ := strconv.ParseBool(getenv("TIDINGS_DEMO_" + name))
		return b
	}
	envInt := func(name string) int {
		n, _ := strconv.Atoi(getenv("TIDINGS_DEMO_" + name))
		return n
	}
	fs.StringVar(&c.DSN, "db", env("DB", DefaultDSN), "PostgreSQL DSN; the database is created when missing (env TIDINGS_DEMO_DB)")
	fs.StringVar(&c.RedisAddr, "redis", env("REDIS", "127.0.0.1:6379"), "Redis host:port, redis://host:port/db, or a Redis Cluster's nodes cluster://h1:7000,h2:7001 (env TIDINGS_DEMO_REDIS)")
	fs.IntVar(&c.RedisDB, "redis-db", envInt("REDIS_DB"), "Redis database number (env TIDINGS_DEMO_REDIS_DB)")
	fs.StringVar(&c.App, "app", env("APP", ""), "app name that namespaces queues and task IDs, to share one Redis database with other apps (env TIDINGS_DEMO_APP)")
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "web server listen address (env TIDINGS_DEMO_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "with -role worker: serve /metrics and /healthz on this address (the web process serves them with its pages) (env TIDINGS_DEMO_METRICS_ADDR)")
	fs.StringVar(&c.Role, "role", env("ROLE", RoleAll), "what this process runs: web (pages, notification center), worker (relay, inboxes, rules, jobs) or all (env TIDINGS_DEMO_ROLE)")
	fs.StringVar(&c.BaseURL, "base-url", env("BASE_URL", ""), "the demo's URL as browsers reach it, for links in mail (default http://<addr>) (env TIDINGS_DEMO_BASE_URL)")
	fs.BoolVar(&c.NoDev, "no-dev", envBool("NO_DEV"), "use the real SMTP server and Slack API below instead of the in-process ones (env TIDINGS_DEMO_NO_DEV)")
	fs.StringVar(&c.SMTPAddr, "smtp", env("SMTP", ""), "SMTP server host:port, with -no-dev (env TIDINGS_DEMO_SMTP)")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", env("SMTP_TLS", "mandatory"), "SMTP TLS policy: mandatory, opportunistic, implicit (SMTPS) or none (a relay on this machine) (env TIDINGS_DEMO_SMTP_TLS)")
	fs.StringVar(&c.SMTPUser, "smtp-user", env("SMTP_USER", ""), "SMTP AUTH user name (env TIDINGS_DEMO_SMTP_USER)")
	fs.StringVar(&c.SMTPPassword, "smtp-password", env("SMTP_PASSWORD", ""), "SMTP AUTH password (prefer env TIDINGS_DEMO_SMTP_PASSWORD)")
	fs.StringVar(&c.SMTPAuth, "smtp-auth", env("SMTP_AUTH", ""), "SMTP AUTH mechanism: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 (default: the strongest offered) (env TIDINGS_DEMO_SMTP_AUTH)")
	fs.StringVar(&c.SlackURL, "slack-url", env("SLACK_URL", ""), "Slack API base URL, with -no-dev (env TIDINGS_DEMO_SLACK_URL)")
	fs.StringVar(&c.SlackToken, "slack-token", env("SLACK_TOKEN", ""), "Slack bot token, with -no-dev (env TIDINGS_DEMO_SLACK_TOKEN)")
	secret := fs.String("secret", env("SECRET", ""), "at least 32 bytes, the same for web and worker, that sign unsubscribe links and seal stored webhook secrets (default: derived from -db, for development only) (env TIDINGS_DEMO_SECRET)")
	fs.StringVar(&c.WebhookReceiver, "webhook-receiver", env("WEBHOOK_RECEIVER", ""), "host:port of a webhook receiver on a private address that webhook subscriptions may reach, with -webhook-ca (env TIDINGS_DEMO_WEBHOOK_RECEIVER)")
	fs.StringVar(&c.WebhookCA, "webhook-ca", env("WEBHOOK_CA", ""), "PEM file of the certificate the -webhook-receiver serves (env TIDINGS_DEMO_WEBHOOK_CA)")
	fs.StringVar(&c.VAPIDPublic, "vapid-public", env("VAPID_PUBLIC", ""), "VAPID public key web pushes are signed with, base64url (default: derived from -secret, for development only) (env TIDINGS_DEMO_VAPID_PUBLIC)")
	fs.StringVar(&c.VAPIDPrivate, "vapid-private", env("VAPID_PRIVATE", ""), "VAPID private key, with -vapid-public (prefer env TIDINGS_DEMO_VAPID_PRIVATE)")
	fs.BoolVar(&c.NoSeed, "no-seed", envBool("NO_SEED"), "do not seed an empty database (env TIDINGS_DEMO_NO_SEED)")
	fs.DurationVar(&c.StaleAfter, "stale-after", envDur("STALE_AFTER", 72*time.Hour), "record no_activity on open issues untouched this long (env TIDINGS_DEMO_STALE_AFTER)")
	fs.StringVar(&c.WriteCatalog, "write-catalog", "", "write the event catalog (catalog.md, catalog.json) into this folder and exit, like cmd/demo/catalog")
	fs.DurationVar(&c.StaleEvery, "stale-every", envDur("STALE_EVERY", time.Minute), "how often to look for untouched issues (env TIDINGS_DEMO_STALE_EVERY)")
	fs.DurationVar(&c.RetentionEvery, "retention-every", envDur("RETENTION_EVERY", time.Hour), "how often the worker prunes old notifications, ledger rows, dead letters, digests and run logs (env TIDINGS_DEMO_RETENTION_EVERY)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *secret != "" {
		if len(*secret) < 32 {
			return c, errors.New("-secret must be at least 32 bytes")
		}
		c.Secret = []byte(*secret)
	}
	if (c.WebhookReceiver == "") != (c.WebhookCA == "") {
		return c, errors.New("-webhook-receiver and -webhook-ca go together: the receiver's address and the PEM file of its certificate")
	}
	if c.WebhookReceiver != "" {
		if _, err := netip.ParseAddrPort(c.WebhookReceiver); err != nil {
			return c, fmt.Errorf("-webhook-receiver %q: %w (use ip:port)", c.WebhookReceiver, err)
		}
	}
	if (c.VAPIDPublic == "") != (c.VAPIDPrivate == "") {
		return c, errors.New("-vapid-public and -vapid-private go together: a key pair from webpush.GenerateVAPIDKeys")
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q: the demo takes only flags (see -h)", fs.Args())
	}
	switch c.Role {
	case RoleAll, RoleWeb, RoleWorker:
	default:
		return c, fmt.Errorf("-role %q: use web, worker or all", c.Role)
	}
	if c.StaleAfter <= 0 || c.StaleEvery <= 0 {
		return c, errors.New("-stale-after and -stale-every must be positive durations, like 72h and 1m")
	}
	return c, nil
}
