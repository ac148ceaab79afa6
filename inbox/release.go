package inbox

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// When a probe finds a sink answering again, the deliveries held for it
// must not wait out their retry delays: the worker whose probe succeeded
// moves them from asynq's retry set to their queues (releaseHeld), and
// notes the time in Redis (SinksKey), so that a worker whose own breaker
// for the sink is still open closes it at the next held attempt instead of
// holding the released jobs again (answeredElsewhere).

// SinksKey is the Redis hash in which app's workers note when each sink
// last answered after an outage: field the sink, value the time in Unix
// nanoseconds. It names sinks only (an SMTP host, a Slack workspace),
// nothing personal; it expires a day after the last note.
func SinksKey(app string) string {
	if app == "" {
		return "tidings:sinks"
	}
	return app + ":tidings:sinks"
}

// sinkNews is the worker's Redis client for SinksKey and the release.
type sinkNews struct {
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
}

// startSinkNews connects the worker's sink news; a failure leaves it off
// (each worker then learns of a sink's return by its own probe).
func (w *Worker) startSinkNews() {
	if w.breakers.cfg.Disable {
		return
	}
	rdb, err := RedisClient(w.cfg.Redis)
	if err != nil {
		w.log.Warn("inbox: held deliveries are not released across workers", "error", err)
		return
	}
	w.news.Store(&sinkNews{rdb: rdb, inspector: asynq.NewInspectorFromRedisClient(rdb)})
}

func (w *Worker) stopSinkNews() {
	if n := w.news.Swap(nil); n != nil {
		_ = n.inspector.Close()
		_ = n.rdb.Close()
	}
}

// answeredElsewhere reports whether the attempt held by held may run after
// all: another worker noted its sink answering after this worker's breaker
// opened (that worker released the held jobs; this one must not hold them
// again). It closes this worker's breaker then.
func (w *Worker) answeredElsewhere(ctx context.Context, held error) bool {
	var he *HeldError
	n := w.news.Load()
	if n == nil || !asHeld(held, &he) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	v, err := n.rdb.HGet(ctx, SinksKey(w.cfg.App), he.Sink).Result()
	if err != nil {
		return false
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false
	}
	return w.breakers.closedElsewhere(he.Sink, he.openedAt, time.Unix(0, ns))
}

// closeAnsweredElsewhere closes each breaker of this worker whose sink
// another worker has seen answer since it opened (SinksKey), before the
// worker publishes its status: a worker that no job reached since the
// sink's return would otherwise show it down (the operations page,
// WorkerBreakersCheck) until its next job found out (answeredElsewhere).
func (w *Worker) closeAnsweredElsewhere(ctx context.Context, rdb redis.UniversalClient) {
	open := w.breakers.notClosed()
	if len(open) == 0 {
		return
	}
	sinks := make([]string, 0, len(open))
	for sink := range open {
		sinks = append(sinks, sink)
	}
	vals, err := rdb.HMGet(ctx, SinksKey(w.cfg.App), sinks...).Result()
	if err != nil {
		return
	}
	for i, v := range vals {
		text, ok := v.(string)
		if !ok {
			continue
		}
		if ns, err := strconv.ParseInt(text, 10, 64); err == nil {
			w.breakers.closedElsewhere(sinks[i], open[sinks[i]], time.Unix(0, ns))
		}
	}
}

func asHeld(err error, he **HeldError) bool {
	for err != nil {
		if h, ok := err.(*HeldError); ok {
			*he = h
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// sinkAnswered runs when this worker's probe found sink answering at at:
// it notes it for the other workers and releases the jobs held for it.
func (w *Worker) sinkAnswered(sink string, at time.Time) {
	n := w.news.Load()
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := SinksKey(w.cfg.App)
	pipe := n.rdb.TxPipeline()
	pipe.HSet(ctx, key, sink, at.UnixNano())
	pipe.Expire(ctx, key, 24*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "inbox: could not tell other workers that a sink answers again", slog.String("sink", sink), slog.String("error", err.Error()))
	}
	released, err := w.releaseHeld(ctx, n.inspector, sink)
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("sink", sink), slog.Int("released", released)}
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	w.log.LogAttrs(ctx, level, "inbox: deliveries held for a sink released: it answers again", attrs...)
}

// releaseHeld moves every retrying job of an inbox delivering to sink
// whose last failure was the sink (held, or unreachable) to its queue, to
// run now. Jobs retrying for another reason keep their delay.
func (w *Worker) releaseHeld(ctx context.Context, in *asynq.Inspector, sink string) (int, error) {
	released := 0
	for name, r := range w.inboxes {
		if r.sink != sink {
			continue
		}
		typ := TaskType(name)
		for _, q := range r.policy.AllQueues() {
			// List first, then run: running shifts the pages.
			var ids []string
			for page := 1; ; page++ {
				tasks, err := in.ListRetryTasks(q, asynq.Page(page), asynq.PageSize(500))
				if err != nil {
					return released, err
				}
				for _, t := range tasks {
					if t.Type == typ && (strings.Contains(t.LastErr, kindHeld) || strings.Contains(t.LastErr, kindUnreachable)) {
						ids = append(ids, t.ID)
					}
				}
				if len(tasks) < 500 || ctx.Err() != nil {
					break
				}
			}
			for _, id := range ids {
				if err := in.RunTask(q, id); err == nil {
					released++
				}
			}
		}
	}
	return released, ctx.Err()
}
