package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/tidingsdev/tidings/activity"
)

// Several apps (or environments) can share one Redis database, a Redis
// Cluster's only database included, by naming themselves: with
// Config.App (RelayConfig.App, DeadLettersConfig.App) set to "billing",
// every queue becomes "billing." + the inbox's queue ("billing.tidings",
// "billing.tidings.email") and every task ID "billing/" + TaskID(...). A
// worker serves only its app's queues, so it never takes another app's
// jobs, and two apps' event IDs (each database counts from 1) never
// dedupe each other. App names follow inbox names: 1-64 of a-z 0-9 _ . -,
// starting with a letter. Changing an app's name while jobs are queued
// strands them in the old queues (the sweeper re-enqueues them after
// PendingConfig.CheckAfter).

// AppQueue returns queue as app's worker serves it.
func AppQueue(app, queue string) string {
	if app == "" {
		return queue
	}
	return app + "." + queue
}

// AppTaskID returns the task ID of the job delivering ev to inbox in app.
func AppTaskID(app, inbox string, ev activity.EventRef) string {
	if app == "" {
		return TaskID(inbox, ev)
	}
	return app + "/" + TaskID(inbox, ev)
}

func checkApp(field, app string) error {
	if app == "" || nameRE.MatchString(app) {
		return nil
	}
	return &ConfigError{Field: field, Reason: fmt.Sprintf("%q is not allowed: use 1-64 of a-z 0-9 _ . -, starting with a letter", app)}
}

// stripApp removes an app prefix from a task ID ("billing/notify:issue:7").
func stripApp(id string) string {
	if i := strings.IndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// strangers remembers the kinds of job a worker could not handle, so it
// says so once per kind instead of at every attempt.
type strangers struct {
	mu   sync.Mutex
	seen map[string]bool
}

// report logs, once per (queue, kind), that the worker met a job it cannot
// handle.
func (s *strangers) report(ctx context.Context, log *slog.Logger, queue, kind string, err error) {
	key := queue + "\x00" + kind
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	first := !s.seen[key]
	s.seen[key] = true
	s.mu.Unlock()
	if !first {
		return
	}
	log.LogAttrs(ctx, slog.LevelError, "inbox: this worker got a job it cannot handle and leaves it for one that can; "+
		"if no worker of this app has it, another app (or an older deployment) shares this Redis database and queue: give each app its own Config.App "+
		"(said once per queue and kind)",
		slog.String("queue", queue), slog.String("kind", kind), slog.Any("error", err))
}
