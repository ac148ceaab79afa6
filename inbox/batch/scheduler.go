package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Scheduler arranges for a window to be flushed at its due time. full says
// the window reached its cap and is due now.
type Scheduler interface {
	Schedule(ctx context.Context, inbox string, window int64, at time.Time, full bool) error
}

// Retrier is a Scheduler that also flushes a window again at the time it
// was put off to: the next probe of its sink's breaker, when the breaker
// held it or the sink did not answer (Config.Breaker). Without it, the
// sweep or a probe that finds the sink answering flushes the window.
type Retrier interface {
	ScheduleRetry(ctx context.Context, inbox string, window int64, at time.Time) error
}

// TaskType is the asynq task type of a scheduled flush.
const TaskType = "tidings:batch:flush"

// DefaultQueue is AsynqScheduler's queue unless it names another. Add it
// to the worker's queues (inbox.Config.Queues).
const DefaultQueue = "tidings.batch"

// AsynqScheduler enqueues one asynq task per window, processed at its due
// time, with a stable task ID ("batch:<inbox>:<window>", plus ":full"
// for the early flush of a window that reached its cap), so adding to an
// open window again enqueues nothing new. Serve the tasks with Handler.
type AsynqScheduler struct {
	Client *asynq.Client
	Queue  string // default DefaultQueue
}

type taskPayload struct {
	Inbox  string `json:"inbox"`
	Window int64  `json:"window"`
}

// TaskID is the asynq task ID of window's scheduled flush.
func TaskID(inboxName string, window int64, full bool) string {
	id := fmt.Sprintf("batch:%s:%d", inboxName, window)
	if full {
		id += ":full"
	}
	return id
}

// Schedule implements Scheduler.
func (s *AsynqScheduler) Schedule(ctx context.Context, inboxName string, window int64, at time.Time, full bool) error {
	return s.enqueue(ctx, inboxName, window, at, TaskID(inboxName, window, full))
}

// ScheduleRetry implements Retrier: one task per window and retry time
// ("batch:<inbox>:<window>:retry:<unix seconds>").
func (s *AsynqScheduler) ScheduleRetry(ctx context.Context, inboxName string, window int64, at time.Time) error {
	return s.enqueue(ctx, inboxName, window, at, fmt.Sprintf("%s:retry:%d", TaskID(inboxName, window, false), at.Unix()))
}

func (s *AsynqScheduler) enqueue(ctx context.Context, inboxName string, window int64, at time.Time, id string) error {
	q := s.Queue
	if q == "" {
		q = DefaultQueue
	}
	payload, _ := json.Marshal(taskPayload{Inbox: inboxName, Window: window})
	// asynq keeps a task's time in whole seconds and may run it up to a
	// second early (at 12:00:05.0 for 12:00:05.7), when the window is not
	// due yet and its flush would do nothing, leaving it to the sweep: run
	// it at the next whole second instead.
	if frac := at.Sub(at.Truncate(time.Second)); frac > 0 {
		at = at.Add(time.Second - frac)
	}
	_, err := s.Client.EnqueueContext(ctx, asynq.NewTask(TaskType, payload), asynq.TaskID(id),
		asynq.ProcessAt(at), asynq.Queue(q), asynq.MaxRetry(10), asynq.Retention(time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("batch: schedule window %d of %s: %w", window, inboxName, err)
	}
	return nil
}

// Handler serves TaskType tasks for the batchers, flushing the named
// window (register it with inbox.Config.Tasks, or an asynq.ServeMux).
func Handler(batchers ...*Batcher) asynq.Handler {
	by := make(map[string]*Batcher, len(batchers))
	for _, b := range batchers {
		by[b.cfg.Inbox] = b
	}
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var p taskPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("batch: bad task payload: %v: %w", err, asynq.SkipRetry)
		}
		b := by[p.Inbox]
		if b == nil {
			return fmt.Errorf("batch: no batcher for inbox %q: %w", p.Inbox, asynq.SkipRetry)
		}
		// A delivery that failed is on the window's own retry schedule
		// (next_attempt_at), which the sweep follows: only a failed claim
		// retries the task.
		_, err := b.FlushWindow(ctx, p.Window, b.cfg.Now())
		return err
	})
}
