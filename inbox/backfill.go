package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/suggest"
)

// BackfillQuery selects the past events a backfill hands over. Set fields
// must all hold. Retracted events are left out.
type BackfillQuery struct {
	Domain        string    `json:"domain"`
	Actions       []string  `json:"actions,omitempty"`
	Since         time.Time `json:"since,omitzero"` // occurred_at >= Since
	Until         time.Time `json:"until,omitzero"` // occurred_at < Until
	Subjects      []string  `json:"subjects,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
}

func (q BackfillQuery) history() activity.HistoryQuery {
	return activity.HistoryQuery{Actions: q.Actions, Since: q.Since, Until: q.Until, Subjects: q.Subjects, CorrelationID: q.CorrelationID}
}

// BackfillSpec is a backfill to create: which events go to which inbox,
// how fast.
type BackfillSpec struct {
	// Inbox is the name of the one inbox the events go to; no other gets
	// them. It must be among BackfillConfig.Inboxes.
	Inbox string
	Query BackfillQuery
	// Rate caps the events handed over per second. Default
	// BackfillConfig.Rate.
	Rate float64
	// By says who started it ("users:3", "console:ana").
	By string
}

// BackfillStatus is a backfill's state.
type BackfillStatus string

// Backfill statuses.
const (
	BackfillPending   BackfillStatus = "pending"
	BackfillRunning   BackfillStatus = "running"
	BackfillDone      BackfillStatus = "done"
	BackfillFailed    BackfillStatus = "failed"
	BackfillCancelled BackfillStatus = "cancelled"
)

// Backfill is one backfill and its progress.
type Backfill struct {
	ID     int64
	Inbox  string
	Query  BackfillQuery
	Status BackfillStatus
	// Done of Total events were handed to the inbox (enqueued, or found
	// enqueued already: Duplicates). LastID is the checkpoint: a resumed
	// run goes on after it. MaxID bounds the selection.
	Done, Total, Duplicates int64
	LastID, MaxID           int64
	// Limit is the configured rate cap, in events per second.
	Limit                    float64
	CreatedBy                string
	CreatedAt, UpdatedAt     time.Time
	RunStartedAt, FinishedAt *time.Time
	LastError                string
	runStartDone             int64
	now                      time.Time
}

// Rate is the current run's measured speed, in events per second.
func (b Backfill) Rate() float64 {
	if b.RunStartedAt == nil {
		return 0
	}
	end := b.now
	if b.FinishedAt != nil {
		end = *b.FinishedAt
	}
	secs := end.Sub(*b.RunStartedAt).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(b.Done-b.runStartDone) / secs
}

// ETA is how long the rest should take at the measured rate (0 when done
// or unknown).
func (b Backfill) ETA() time.Duration {
	r := b.Rate()
	left := b.Total - b.Done
	if r <= 0 || left <= 0 || b.Status != BackfillRunning {
		return 0
	}
	return time.Duration(float64(left) / r * float64(time.Second)).Round(time.Second)
}

// Percent is Done/Total in percent (100 for an empty backfill).
func (b Backfill) Percent() float64 {
	if b.Total <= 0 {
		return 100
	}
	return math.Min(100, 100*float64(b.Done)/float64(b.Total))
}

// String renders the progress as the command and the logs show it.
func (b Backfill) String() string {
	s := fmt.Sprintf("backfill %d: %s of %s to %s: %s, %d/%d events (%.1f%%)", b.ID, b.Query.Domain, describeQuery(b.Query), b.Inbox, b.Status, b.Done, b.Total, b.Percent())
	if r := b.Rate(); r > 0 {
		s += fmt.Sprintf(", %.0f events/s", r)
	}
	if eta := b.ETA(); eta > 0 {
		s += ", ETA " + eta.String()
	}
	if b.LastError != "" {
		s += ", last error: " + b.LastError
	}
	return s
}

func describeQuery(q BackfillQuery) string {
	var parts []string
	if len(q.Actions) > 0 {
		parts = append(parts, "actions "+strings.Join(q.Actions, ","))
	}
	if !q.Since.IsZero() {
		parts = append(parts, "since "+q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		parts = append(parts, "until "+q.Until.UTC().Format(time.RFC3339))
	}
	if len(q.Subjects) > 0 {
		parts = append(parts, fmt.Sprintf("%d subjects", len(q.Subjects)))
	}
	if q.CorrelationID != "" {
		parts = append(parts, "correlation "+q.CorrelationID)
	}
	if len(parts) == 0 {
		return "all events"
	}
	return strings.Join(parts, ", ")
}

// BackfillConfig configures a Backfiller. Zero fields take the documented
// defaults.
type BackfillConfig struct {
	// DB holds the events and inbox_backfills. Required.
	DB *gorm.DB
	// Redis is where jobs are enqueued, the worker's Redis. Required
	// unless Client is set.
	Redis  asynq.RedisConnOpt
	Client *asynq.Client
	// App is the workers' Config.App (their queues' and task IDs'
	// namespace).
	App string
	// Domains are the domains events may be backfilled from. Required.
	Domains []*activity.Domain
	// Inboxes are the inboxes that may receive backfills (their names
	// and policies: queue, retries, timeout). Required. They must run in
	// a worker to process the jobs.
	Inboxes []Inbox
	// BatchSize is how many events one transaction hands over and
	// checkpoints. Default 500.
	BatchSize int
	// Rate is the default cap in events per second. Default 1000;
	// math.Inf(1) for none.
	Rate float64
	// EnqueueConcurrency, EnqueueTimeout, Retention, MinBackoff and
	// MaxBackoff mean what they mean in RelayConfig, with its defaults.
	EnqueueConcurrency     int
	EnqueueTimeout         time.Duration
	Retention              time.Duration
	MinBackoff, MaxBackoff time.Duration
	// ProgressEvery is how often Run logs the progress. Default 5s.
	ProgressEvery time.Duration
	// Logger receives the progress. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultBackfillRate is the default BackfillConfig.Rate.
const DefaultBackfillRate = 1000

// Backfiller hands past events to one inbox: a new inbox that should see
// history, a warehouse sink, an inbox that was down when events happened.
//
// A backfill is a row in inbox_backfills. Run reads its matching events
// in ID order, a batch per transaction: it locks the row, enqueues one job
// per event for the backfill's inbox only (the task type and ID a live
// delivery has, so the worker runs it the same way and a job the fan-out
// enqueued already is not enqueued again), and stores the last event's ID
// as the checkpoint with the batch. A run killed mid-way leaves the
// checkpoint of its last committed batch; the next Run goes on from there,
// and the jobs of the batch it was in are deduplicated by their task IDs
// (within RelayConfig.Retention) and by the deliveries ledger (Once, Send)
// after that, so each event's effects happen once. Two runs of one
// backfill take turns on the row lock. Rate limits the hand-over; progress
// (done of total, rate, ETA) is stored with each batch, logged every
// ProgressEvery, and read with Get (cmd/tidings-backfill shows it).
type Backfiller struct {
	cfg     BackfillConfig
	relay   *Relay // its enqueue, for the backfill's jobs
	domains map[string]*activity.Domain
	routes  map[string]*route
	names   []string
	log     *slog.Logger
}

// NewBackfiller checks cfg and returns a Backfiller.
func NewBackfiller(cfg BackfillConfig) (*Backfiller, error) {
	switch {
	case cfg.DB == nil:
		return nil, &ConfigError{Field: "BackfillConfig.DB", Reason: "is nil"}
	case cfg.Client == nil && cfg.Redis == nil:
		return nil, &ConfigError{Field: "BackfillConfig.Redis", Reason: "is nil: set Redis (or Client) to enqueue to"}
	case len(cfg.Domains) == 0:
		return nil, &ConfigError{Field: "BackfillConfig.Domains", Reason: "is empty"}
	case len(cfg.Inboxes) == 0:
		return nil, &ConfigError{Field: "BackfillConfig.Inboxes", Reason: "is empty: list the inboxes backfills may go to"}
	}
	setDefault(&cfg.BatchSize, 500)
	if cfg.Rate == 0 {
		cfg.Rate = DefaultBackfillRate
	}
	setDefault(&cfg.ProgressEvery, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rate < 0 || cfg.BatchSize < 0 {
		return nil, &ConfigError{Field: "BackfillConfig.Rate", Reason: "and BatchSize must not be negative"}
	}
	r, err := NewRelay(RelayConfig{
		DB: cfg.DB, Redis: cfg.Redis, Client: cfg.Client, Inboxes: cfg.Inboxes, Domains: cfg.Domains, App: cfg.App,
		EnqueueConcurrency: cfg.EnqueueConcurrency, EnqueueTimeout: cfg.EnqueueTimeout, Retention: cfg.Retention,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, DisableListen: true, Logger: cfg.Logger,
		forBackfill: true,
	})
	if err != nil {
		return nil, err
	}
	r.backfill = true
	b := &Backfiller{cfg: cfg, relay: r, domains: map[string]*activity.Domain{}, routes: map[string]*route{}, log: r.log}
	for _, d := range cfg.Domains {
		b.domains[d.Name()] = d
	}
	for i := range r.routes {
		b.routes[r.routes[i].name] = &r.routes[i]
		b.names = append(b.names, r.routes[i].name)
	}
	sort.Strings(b.names)
	return b, nil
}

// Close releases the asynq client the backfiller made.
func (b *Backfiller) Close() error { return b.relay.Close() }

func didYouMean(name string, names []string) string {
	if s := suggest.Nearest(name, names); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// ErrBackfillNotFound is returned when no backfill has the requested ID.
var ErrBackfillNotFound = errors.New("inbox: backfill not found")

// Create checks spec, counts the events it selects, and stores it as a
// pending backfill; Run hands the events over.
func (b *Backfiller) Create(ctx context.Context, spec BackfillSpec) (Backfill, error) {
	if b.routes[spec.Inbox] == nil {
		return Backfill{}, &ConfigError{Field: "BackfillSpec.Inbox", Reason: fmt.Sprintf("%q is not among the backfiller's inboxes (%s)%s",
			spec.Inbox, strings.Join(b.names, ", "), didYouMean(spec.Inbox, b.names))}
	}
	d := b.domains[spec.Query.Domain]
	if d == nil {
		names := make([]string, 0, len(b.domains))
		for n := range b.domains {
			names = append(names, n)
		}
		sort.Strings(names)
		return Backfill{}, &ConfigError{Field: "BackfillSpec.Query.Domain", Reason: fmt.Sprintf("%q is not among the backfiller's domains (%s)%s",
			spec.Query.Domain, strings.Join(names, ", "), didYouMean(spec.Query.Domain, names))}
	}
	if spec.Rate == 0 {
		spec.Rate = b.cfg.Rate
	}
	if spec.Rate < 0 || math.IsNaN(spec.Rate) {
		return Backfill{}, &ConfigError{Field: "BackfillSpec.Rate", Reason: fmt.Sprintf("is %g; give events per second above 0 (math.Inf(1) for no cap)", spec.Rate)}
	}
	if len(spec.By) > 128 {
		return Backfill{}, &ConfigError{Field: "BackfillSpec.By", Reason: "is longer than 128 bytes"}
	}
	// Every tenant's, as Run hands them out: a backfill created in a
	// request (under its tenant) must not stop at that tenant's last
	// event and skip later events of the others.
	total, maxID, err := d.Count(activity.AcrossTenants(activity.WithoutTenant(ctx)), b.cfg.DB, spec.Query.history())
	if err != nil {
		return Backfill{}, err
	}
	q, err := json.Marshal(spec.Query)
	if err != nil {
		return Backfill{}, err
	}
	stored := spec.Rate
	if math.IsInf(stored, 1) {
		stored = math.MaxFloat64
	}
	var id int64
	now := b.cfg.Now()
	if err := b.cfg.DB.WithContext(ctx).Raw(`INSERT INTO inbox_backfills (inbox, domain, query, total, max_id, rate, created_by, created_at, updated_at)
VALUES (?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?) RETURNING id`, spec.Inbox, d.Name(), string(q), total, maxID, stored, spec.By, now, now).Scan(&id).Error; err != nil {
		return Backfill{}, fmt.Errorf("inbox: create backfill: %w", err)
	}
	return b.Get(ctx, id)
}
