package tidings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/retention"
)

// Task types of the jobs the worker schedules for itself (besides
// retention.TaskType and batch.TaskType).
const (
	// MaintainTaskType runs each partitioned domain's Maintain.
	MaintainTaskType = "tidings:maintain"
	// SweepTaskType flushes the due batch windows of every batching
	// inbox.
	SweepTaskType = "tidings:batch:sweep"
	// JobTaskTypePrefix starts the task type of each of Config.Jobs.
	JobTaskTypePrefix = "tidings:job:"
	// PeriodicTaskTypePrefix starts the task type of each periodic
	// inbox's task (inbox.Periodic).
	PeriodicTaskTypePrefix = "tidings:periodic:"
)

// JobTaskType is the task type of the app's job name (Config.Jobs).
func JobTaskType(name string) string { return JobTaskTypePrefix + name }

// PeriodicTaskType is the task type of the periodic task of the inbox
// named name (inbox.Periodic: an email inbox's escalations).
func PeriodicTaskType(name string) string { return PeriodicTaskTypePrefix + name }

// Default cron specs of the scheduled jobs.
const (
	DefaultRetentionEvery = "@daily"
	DefaultMaintainEvery  = "@hourly"
	DefaultSweepEvery     = "@every 1m"
)

// entry is one job the worker's scheduler enqueues.
type entry struct {
	name, spec, taskType string
	unique               time.Duration
	field                string // the Config field of its spec
}

// schedule lists the jobs Config asks for.
func (c *Client) schedule() []entry {
	var out []entry
	if r := c.cfg.Retention; r != nil {
		out = append(out, entry{name: "retention", spec: orDefault(r.Every, DefaultRetentionEvery), taskType: retention.TaskType, unique: time.Hour, field: "Retention.Every"})
	}
	if c.partitioned() && c.cfg.MaintainEvery != "-" {
		out = append(out, entry{name: "partition maintenance", spec: orDefault(c.cfg.MaintainEvery, DefaultMaintainEvery), taskType: MaintainTaskType, unique: time.Hour, field: "MaintainEvery"})
	}
	if len(c.batchers) > 0 && c.cfg.SweepEvery != "-" {
		out = append(out, entry{name: "batch sweep", spec: orDefault(c.cfg.SweepEvery, DefaultSweepEvery), taskType: SweepTaskType, unique: time.Minute, field: "SweepEvery"})
	}
	for _, p := range c.periodic {
		// Unique while a tick's task waits or runs, as the app's jobs.
		out = append(out, entry{name: "inbox " + p.name, spec: fmt.Sprintf("@every %s", p.task.Every), taskType: PeriodicTaskType(p.name),
			unique: max(p.task.Every, time.Minute), field: p.field})
	}
	for i, j := range c.cfg.Jobs {
		// Unique while a tick's task waits or runs (the lock is released
		// when it is done): several schedulers enqueue it once.
		out = append(out, entry{name: "job " + j.Name, spec: j.Every, taskType: JobTaskType(j.Name), unique: time.Minute, field: fmt.Sprintf("Jobs[%d].Every", i)})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (c *Client) partitioned() bool {
	for _, d := range c.cfg.Domains {
		if _, ok := d.Partitioned(); ok {
			return true
		}
	}
	return false
}

// queue is where the scheduled jobs go: the inbox worker's default queue,
// which the worker always serves (see queues).
func (c *Client) queue() string { return inbox.AppQueue(c.cfg.App, inbox.DefaultQueue) }

// tasks adds the scheduled jobs' handlers to the app's own task handlers
// (inbox.Config.Tasks): the worker serves them on its queues.
func (c *Client) tasks(app map[string]asynq.Handler) map[string]asynq.Handler {
	out := map[string]asynq.Handler{}
	if c.keep != nil || c.cfg.Retention != nil {
		out[retention.TaskType] = asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error { return c.keep.ProcessTask(ctx, t) })
	}
	out[MaintainTaskType] = asynq.HandlerFunc(c.maintain)
	if len(c.batchers) > 0 {
		out[batch.TaskType] = batch.Handler(c.batchers...)
		out[SweepTaskType] = asynq.HandlerFunc(c.sweep)
	}
	for _, j := range c.cfg.Jobs {
		out[JobTaskType(j.Name)] = asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
			err := j.Run(ctx)
			if err != nil && ctx.Err() == nil {
				c.cfg.Logger.ErrorContext(ctx, "tidings: job failed", "job", j.Name, "error", err)
			}
			return err
		})
	}
	for _, p := range c.periodic {
		out[PeriodicTaskType(p.name)] = asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
			err := p.task.Run(ctx)
			if err != nil && ctx.Err() == nil {
				c.cfg.Logger.ErrorContext(ctx, "tidings: periodic task failed", "inbox", p.name, "error", err)
			}
			return err
		})
	}
	for k, h := range app {
		out[k] = h
	}
	return out
}

// periodicTask is a periodic inbox's task the worker schedules.
type periodicTask struct {
	name, field string // the inbox's name, its Config field
	task        inbox.PeriodicTask
}

// findPeriodic lists the tasks of the periodic inboxes of Config.Inboxes
// (inbox.Periodic).
func (c *Client) findPeriodic() error {
	for i, in := range c.cfg.Inboxes {
		p, ok := in.(inbox.Periodic)
		if !ok {
			continue
		}
		task, ok := p.Periodic()
		if !ok {
			continue
		}
		field := fmt.Sprintf("Inboxes[%d]", i)
		switch {
		case task.Every <= 0:
			return &ConfigError{Field: field, Reason: fmt.Sprintf("is inbox %q, whose periodic task's interval is %v: give it a positive one", in.Name(), task.Every)}
		case task.Run == nil:
			return &ConfigError{Field: field, Reason: fmt.Sprintf("is inbox %q, whose periodic task's Run is nil", in.Name())}
		}
		c.periodic = append(c.periodic, periodicTask{name: in.Name(), field: field, task: task})
	}
	return nil
}

// checkJobs checks Config.Jobs' names and functions (their specs are
// checkSchedule's).
func (c *Client) checkJobs() error {
	seen := map[string]bool{}
	for i, j := range c.cfg.Jobs {
		field := fmt.Sprintf("Jobs[%d]", i)
		switch {
		case j.Name == "":
			return &ConfigError{Field: field + ".Name", Reason: "is empty: name the job (\"reminders\")"}
		case seen[j.Name]:
			return &ConfigError{Field: field + ".Name", Reason: fmt.Sprintf("is %q, the name of an earlier job: give each job its own", j.Name)}
		case j.Every == "":
			return &ConfigError{Field: field + ".Every", Reason: "is empty: give its cron spec (\"@every 1m\", \"@hourly\", \"30 3 * * *\")"}
		case j.Run == nil:
			return &ConfigError{Field: field + ".Run", Reason: "is nil: give the function of one tick"}
		}
		seen[j.Name] = true
	}
	return nil
}

// queues makes sure the worker serves the queue the scheduled jobs and
// batch flushes are enqueued on.
func (c *Client) queues(app map[string]int) map[string]int {
	out := map[string]int{inbox.DefaultQueue: 1}
	if len(c.batchers) > 0 {
		out[batch.DefaultQueue] = 1
	}
	for q, p := range app {
		out[q] = p
	}
	return out
}

// checkSchedule parses the cron specs, so a bad one is a ConfigError at
// NewClient rather than a failure at Start.
func (c *Client) checkSchedule() error {
	s := asynq.NewScheduler(c.redisOpt, &asynq.SchedulerOpts{Logger: quietLogger{}})
	for _, e := range c.schedule() {
		if _, err := s.Register(e.spec, asynq.NewTask(e.taskType, nil)); err != nil {
			return &ConfigError{Field: e.field, Reason: fmt.Sprintf("is %q: %v (a cron spec such as \"@daily\", \"30 3 * * *\" or \"@every 1h\")", e.spec, err)}
		}
	}
	return nil
}

// newScheduler registers the scheduled jobs on a scheduler of their own
// connection. It is started with Start and never with Run, which would
// install asynq's own signal handlers and swallow the app's SIGTERM.
func (c *Client) newScheduler() (*asynq.Scheduler, error) {
	log := c.cfg.Logger
	s := asynq.NewScheduler(c.redisOpt, &asynq.SchedulerOpts{
		Logger: quietLogger{}, LogLevel: asynq.ErrorLevel,
		EnqueueErrorHandler: func(t *asynq.Task, _ []asynq.Option, err error) {
			if errors.Is(err, asynq.ErrDuplicateTask) || errors.Is(err, asynq.ErrTaskIDConflict) {
				return // another process's scheduler enqueued this tick's job
			}
			log.Error("tidings: scheduled job not enqueued", "task", t.Type(), "error", err)
		},
	})
	for _, e := range c.schedule() {
		if _, err := s.Register(e.spec, asynq.NewTask(e.taskType, nil), asynq.Queue(c.queue()), asynq.MaxRetry(1), asynq.Unique(e.unique)); err != nil {
			return nil, fmt.Errorf("tidings: schedule %s %q: %w", e.name, e.spec, err)
		}
		log.Debug("tidings: scheduled", "job", e.name, "every", e.spec, "queue", c.queue())
	}
	return s, nil
}

// maintain runs each partitioned domain's Maintain.
func (c *Client) maintain(ctx context.Context, _ *asynq.Task) error {
	var errs []error
	for _, d := range c.cfg.Domains {
		if _, ok := d.Partitioned(); !ok {
			continue
		}
		m, err := d.Maintain(ctx, c.cfg.DB, activity.MaintainConfig{})
		if err != nil {
			errs = append(errs, fmt.Errorf("tidings: maintain %s: %w", d.Name(), err))
			continue
		}
		c.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "tidings: partition maintenance", slog.String("domain", d.Name()),
			slog.Int("created", len(m.Created)), slog.Int("dropped", len(m.Dropped)))
	}
	return errors.Join(errs...)
}

// sweep flushes every batching inbox's due windows.
func (c *Client) sweep(ctx context.Context, _ *asynq.Task) error {
	var errs []error
	var sent int
	for _, b := range c.batchers {
		res, err := b.Flush(ctx, c.cfg.Now())
		if err != nil {
			errs = append(errs, fmt.Errorf("tidings: sweep %s: %w", b.Inbox(), err))
		}
		sent += res.Sent
	}
	c.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "tidings: batch sweep", slog.Int("inboxes", len(c.batchers)), slog.Int("sent", sent))
	return errors.Join(errs...)
}

// quietLogger drops asynq's scheduler lines ("Scheduler starting"): the
// client logs what it scheduled and what failed.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}
