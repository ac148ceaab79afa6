package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

type taskView struct {
	ID, Queue, Type, State, LastErr string
	Retried, MaxRetry               int
	NextAt, FailedAt                time.Time
	Event                           string // permalink of the event
	eventID                         int64  // 0 for a task of no event
}

type queuesData struct {
	Queues  []*asynq.QueueInfo
	Retry   []taskView
	Archive []taskView
	Dead    []inbox.DeadLetter
	Relay   inbox.RelayStats
	Listen  bool
	Error   string
	// Breakers are the worker's circuit breakers, one per sink (SMTP
	// server, Slack workspace); Sweep the pending-delivery sweeper.
	Breakers []inbox.BreakerState
	Sweep    inbox.SweepStats
}

// monitoring shows the asynq queues (sizes, retries, archived jobs, with a
// button to run one again) and the inbox dead letters (with re-drive).
func (a *App) monitoring(w http.ResponseWriter, r *http.Request) {
	d := queuesData{Error: r.URL.Query().Get("error")}
	insp := a.fan.inspector
	names, err := insp.Queues()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sort.Strings(names)
	for _, q := range names {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		d.Queues = append(d.Queues, info)
		retry, err := insp.ListRetryTasks(q, asynq.PageSize(50))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for _, t := range retry {
			d.Retry = append(d.Retry, viewTask(t))
		}
		archived, err := insp.ListArchivedTasks(q, asynq.PageSize(50))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for _, t := range archived {
			d.Archive = append(d.Archive, viewTask(t))
		}
	}
	page, err := a.fan.dead.List(r.Context(), inbox.DeadLetterQuery{Limit: 50})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d.Dead = page.Letters
	if err := a.ownTasks(r.Context(), &d); err != nil {
		a.fail(w, r, err)
		return
	}
	if relay := a.fan.worker.Relay(); relay != nil {
		d.Relay, d.Listen = relay.Stats(), relay.Listening()
		d.Sweep = relay.SweepStats()
	}
	d.Breakers = a.fan.worker.Breakers()
	a.render(w, r, http.StatusOK, "monitoring", "Queues", "monitoring", d)
}

// ownTasks keeps the retrying and archived tasks and the dead letters of
// this organisation's events (the queues serve every organisation; their
// sizes stay totals): an event the tenant-scoped EventsByID does not find
// is another's.
func (a *App) ownTasks(ctx context.Context, d *queuesData) error {
	var ids []int64
	for _, ts := range [][]taskView{d.Retry, d.Archive} {
		for _, t := range ts {
			ids = append(ids, t.eventID)
		}
	}
	for _, l := range d.Dead {
		ids = append(ids, l.Event.ID)
	}
	own, err := a.issues.EventsByID(ctx, a.db, ids)
	if err != nil {
		return err
	}
	other := func(t taskView) bool { _, ok := own[t.eventID]; return !ok }
	d.Retry = slices.DeleteFunc(d.Retry, other)
	d.Archive = slices.DeleteFunc(d.Archive, other)
	d.Dead = slices.DeleteFunc(d.Dead, func(l inbox.DeadLetter) bool {
		_, ok := own[l.Event.ID]
		return l.Event.Domain != a.issues.Name() || !ok
	})
	return nil
}

// ownEvent reports whether the issue event id is the request's
// organisation's: its tasks and dead letters are the only ones it may run.
func (a *App) ownEvent(ctx context.Context, id int64) bool {
	evs, err := a.issues.EventsByID(ctx, a.db, []int64{id})
	_, ok := evs[id]
	return err == nil && ok
}

func viewTask(t *asynq.TaskInfo) taskView {
	v := taskView{ID: t.ID, Queue: t.Queue, Type: t.Type, State: t.State.String(), LastErr: t.LastErr,
		Retried: t.Retried, MaxRetry: t.MaxRetry, NextAt: t.NextProcessAt, FailedAt: t.LastFailedAt}
	if _, ev, err := inbox.ParseTaskID(t.ID); err == nil {
		v.Event = "/events/" + strconv.FormatInt(ev.ID, 10)
		v.eventID = ev.ID
	}
	return v
}

// runTask runs a retrying or archived task now.
func (a *App) runTask(w http.ResponseWriter, r *http.Request) {
	_, ev, err := inbox.ParseTaskID(r.FormValue("id"))
	if err != nil || !a.ownEvent(r.Context(), ev.ID) {
		a.notFound(w, r, "Task "+r.FormValue("id"))
		return
	}
	err = a.fan.inspector.RunTask(r.FormValue("queue"), r.FormValue("id"))
	back := "/monitoring"
	if err != nil {
		back += "?error=" + url.QueryEscape(err.Error())
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// redrive re-enqueues a dead letter.
func (a *App) redrive(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.FormValue("event"), 10, 64)
	if r.FormValue("domain") != a.issues.Name() || !a.ownEvent(r.Context(), id) {
		a.notFound(w, r, "Dead letter of event "+r.FormValue("event"))
		return
	}
	err := a.fan.dead.Redrive(r.Context(), r.FormValue("inbox"), activity.EventRef{Domain: r.FormValue("domain"), ID: id})
	back := "/monitoring"
	if err != nil {
		back += "?error=" + url.QueryEscape(err.Error())
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
