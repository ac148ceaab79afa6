package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/prune"
	"github.com/tidingsdev/tidings/workflow"
)

// ErrInvalidConfig is returned (inside a *ConfigError) by New.
var ErrInvalidConfig = errors.New("retention: invalid configuration")

// ConfigError names the Config field that is wrong.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string { return "retention: " + e.Field + " " + e.Reason }

func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Config configures a Job. Zero durations keep that table forever.
type Config struct {
	// DB holds the library's tables. Required.
	DB *gorm.DB
	// Domains are maintained with their own Partition and Retention
	// (activity.DomainConfig).
	Domains []*activity.Domain
	// ReadNotifications is how long read notifications are kept after
	// they were read; UnreadNotifications how long unread ones are kept
	// after they were created.
	ReadNotifications, UnreadNotifications time.Duration
	// Deliveries is how long deliveries-ledger rows are kept.
	Deliveries time.Duration
	// DeadLetters is how long dead letters are kept after they failed.
	DeadLetters time.Duration
	// Digests is how long finished email digests and escalations are
	// kept after their last update.
	Digests time.Duration
	// RunLog is how long finished workflow runs are kept.
	RunLog time.Duration
	// Batch is the rows one DELETE removes. Default 5000.
	Batch int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one line per step and one per run. Default
	// slog.Default().
	Logger *slog.Logger
}

// Step is what one step of a run removed.
type Step struct {
	Name    string        // "events issue", "notifications", ...
	Removed int64         // rows deleted
	Created []string      // partitions created (events steps)
	Dropped []string      // partitions dropped (events steps)
	Took    time.Duration // the step's duration
	Err     error         // the step's failure; later steps still ran
}

// Report is what one Run did.
type Report struct {
	Steps []Step
	Took  time.Duration
}

// Removed is the rows all steps deleted.
func (r Report) Removed() int64 {
	var n int64
	for _, s := range r.Steps {
		n += s.Removed
	}
	return n
}

// Job runs retention. It is safe for concurrent use.
type Job struct {
	cfg Config
}

// TaskType is the asynq task type of a retention run.
const TaskType = "tidings:retention"

// New validates cfg and returns the job.
func New(cfg Config) (*Job, error) {
	if cfg.DB == nil {
		return nil, &ConfigError{Field: "DB", Reason: "is nil: pass the app's *gorm.DB"}
	}
	for name, d := range map[string]time.Duration{
		"ReadNotifications": cfg.ReadNotifications, "UnreadNotifications": cfg.UnreadNotifications,
		"Deliveries": cfg.Deliveries, "DeadLetters": cfg.DeadLetters, "Digests": cfg.Digests, "RunLog": cfg.RunLog,
	} {
		if d < 0 {
			return nil, &ConfigError{Field: name, Reason: fmt.Sprintf("is %v: use a positive duration, or 0 to keep forever", d)}
		}
	}
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Domains[%d]", i), Reason: "is nil"}
		}
	}
	if cfg.Batch < 0 {
		return nil, &ConfigError{Field: "Batch", Reason: "is negative: use a positive size, or 0 for the default (5000)"}
	}
	if cfg.Batch == 0 {
		cfg.Batch = prune.DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Job{cfg: cfg}, nil
}

// Run runs every step once. A failing step does not stop the others: their
// errors come back joined, and each is in its Step.
func (j *Job) Run(ctx context.Context) (Report, error) {
	started := time.Now()
	now := j.cfg.Now()
	db := j.cfg.DB.WithContext(ctx)
	var rep Report
	var errs []error
	step := func(name string, run func() (Step, error)) {
		t := time.Now()
		s, err := run()
		s.Name, s.Took, s.Err = name, time.Since(t), err
		rep.Steps = append(rep.Steps, s)
		attrs := []any{"step", name, "removed", s.Removed, "took", s.Took}
		if len(s.Created)+len(s.Dropped) > 0 {
			attrs = append(attrs, "partitions_created", len(s.Created), "partitions_dropped", len(s.Dropped))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: %s: %w", name, err))
			j.cfg.Logger.ErrorContext(ctx, "retention step failed", append(attrs, "error", err)...)
			return
		}
		j.cfg.Logger.InfoContext(ctx, "retention step", attrs...)
	}
	before := func(keep time.Duration) time.Time { return now.Add(-keep) }
	for _, d := range j.cfg.Domains {
		step("events "+d.Name(), func() (Step, error) {
			m, err := d.Maintain(ctx, db, activity.MaintainConfig{Now: now, DeleteBatch: j.cfg.Batch})
			return Step{Removed: m.Deleted + m.Outbox, Created: m.Created, Dropped: m.Dropped}, err
		})
	}
	rows := func(name string, keep time.Duration, run func(before time.Time) (int64, error)) {
		if keep > 0 {
			step(name, func() (Step, error) {
				n, err := run(before(keep))
				return Step{Removed: n}, err
			})
		}
	}
	if j.cfg.ReadNotifications > 0 || j.cfg.UnreadNotifications > 0 {
		step("notifications", func() (Step, error) {
			var read, unread time.Time
			if j.cfg.ReadNotifications > 0 {
				read = before(j.cfg.ReadNotifications)
			}
			if j.cfg.UnreadNotifications > 0 {
				unread = before(j.cfg.UnreadNotifications)
			}
			n, err := notify.PruneAllTenants(ctx, db, read, unread, j.cfg.Batch)
			return Step{Removed: n}, err
		})
	}
	rows("deliveries ledger", j.cfg.Deliveries, func(t time.Time) (int64, error) { return inbox.PruneDeliveriesAllTenants(ctx, db, t, j.cfg.Batch) })
	rows("dead letters", j.cfg.DeadLetters, func(t time.Time) (int64, error) { return inbox.PruneDeadLetters(ctx, db, t, j.cfg.Batch) })
	rows("email digests", j.cfg.Digests, func(t time.Time) (int64, error) { return email.PruneAllTenants(ctx, db, t, j.cfg.Batch) })
	rows("workflow run log", j.cfg.RunLog, func(t time.Time) (int64, error) { return workflow.PruneRunLogAllTenants(ctx, db, t, j.cfg.Batch) })
	rep.Took = time.Since(started)
	j.cfg.Logger.InfoContext(ctx, "retention run", "steps", len(rep.Steps), "removed", rep.Removed(), "took", rep.Took, "failed", len(errs))
	return rep, errors.Join(errs...)
}

// ProcessTask runs a retention run for a TaskType task: Job is the
// handler of the worker's scheduled task (inbox.Config.Tasks; see
// Schedule).
func (j *Job) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	_, err := j.Run(ctx)
	return err
}

// Schedule registers the retention task with an asynq scheduler at
// cronspec ("@daily", "30 3 * * *", "@every 1h"), unique while one is
// queued or running, on the inbox worker's queue (inbox.DefaultQueue; pass
// asynq.Queue(inbox.AppQueue(app, inbox.DefaultQueue)) when the worker has
// an inbox.Config.App). Serve it on that worker: the Job in
// inbox.Config.Tasks under TaskType. It returns the scheduler's entry id.
//
// Start the scheduler with Start and stop it with Shutdown: its Run
// installs signal handlers of its own, which take the process's SIGTERM
// from the app. The entry point (package tidings, Config.Retention) does
// all of this.
func Schedule(s *asynq.Scheduler, cronspec string, opts ...asynq.Option) (string, error) {
	opts = append([]asynq.Option{asynq.Queue(inbox.DefaultQueue), asynq.MaxRetry(1), asynq.Unique(time.Hour)}, opts...)
	id, err := s.Register(cronspec, asynq.NewTask(TaskType, nil), opts...)
	if err != nil {
		return "", fmt.Errorf("retention: schedule %q: %w", cronspec, err)
	}
	return id, nil
}
