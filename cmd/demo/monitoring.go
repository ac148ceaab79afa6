package main

import (
	"net/http"
	"net/url"
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
	if relay := a.fan.worker.Relay(); relay != nil {
		d.Relay, d.Listen = relay.Stats(), relay.Listening()
		d.Sweep = relay.SweepStats()
	}
	d.Breakers = a.fan.worker.Breakers()
	a.render(w, r, http.StatusOK, "monitoring", "Queues", "monitoring", d)
}

func viewTask(t *asynq.TaskInfo) taskView {
	v := taskView{ID: t.ID, Queue: t.Queue, Type: t.Type, State: t.State.String(), LastErr: t.LastErr,
		Retried: t.Retried, MaxRetry: t.MaxRetry, NextAt: t.NextProcessAt, FailedAt: t.LastFailedAt}
	if _, ev, err := inbox.ParseTaskID(t.ID); err == nil {
		v.Event = "/events/" + strconv.FormatInt(ev.ID, 10)
	}
	return v
}

// runTask runs a retrying or archived task now.
func (a *App) runTask(w http.ResponseWriter, r *http.Request) {
	err := a.fan.inspector.RunTask(r.FormValue("queue"), r.FormValue("id"))
	back := "/monitoring"
	if err != nil {
		back += "?error=" + url.QueryEscape(err.Error())
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// redrive re-enqueues a dead letter.
func (a *App) redrive(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.FormValue("event"), 10, 64)
	err := a.fan.dead.Redrive(r.Context(), r.FormValue("inbox"), activity.EventRef{Domain: r.FormValue("domain"), ID: id})
	back := "/monitoring"
	if err != nil {
		back += "?error=" + url.QueryEscape(err.Error())
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
