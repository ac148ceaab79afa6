package main

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

type actorOption struct {
	Value, Label string
}

type eventsData struct {
	Actions     []string
	Actors      []actorOption
	Action      string
	Actor       string
	Correlation string
	Error       string
	Feed        feedView
}

// eventBrowser lists every event of the issue domain, filtered by action,
// actor and correlation id.
func (a *App) eventBrowser(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	d := eventsData{Actions: a.issues.Actions(), Action: qs.Get("action"), Actor: qs.Get("actor"), Correlation: strings.TrimSpace(qs.Get("correlation"))}
	var users []User
	if err := a.db.WithContext(r.Context()).Order("id").Find(&users).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	for _, u := range users {
		d.Actors = append(d.Actors, actorOption{Value: "users:" + strconv.FormatInt(u.ID, 10), Label: u.Name})
	}
	for _, s := range []string{"system", "workflow"} {
		d.Actors = append(d.Actors, actorOption{Value: activity.SystemActorType + ":" + s, Label: s + " (system)"})
	}
	q := activity.FeedQuery{CorrelationID: d.Correlation}
	if d.Action != "" {
		q.Actions = []string{d.Action}
	}
	if typ, id, ok := strings.Cut(d.Actor, ":"); ok && typ != "" && id != "" {
		q.Actor = activity.Ref{Type: typ, ID: id}
	}
	var err error
	d.Feed, err = a.feed(r, q, "/events", true)
	var unknown *activity.UnknownActionError
	switch {
	case errors.As(err, &unknown):
		d.Error = unknown.Error()
	case errors.Is(err, activity.ErrInvalidCursor), errors.Is(err, activity.ErrInvalidRef), errors.Is(err, activity.ErrInvalidQuery):
		d.Error = err.Error()
	case err != nil:
		a.fail(w, r, err)
		return
	}
	if qs.Get("fragment") == "1" && d.Error == "" {
		a.renderFragment(w, r, "events", "feed-page", d.Feed)
		return
	}
	a.render(w, r, http.StatusOK, "events", "Events", "events", d)
}

type eventData struct {
	Entry    entryView
	Issue    *Issue
	Cause    *entryView
	CauseRef string
	Caused   feedView
	Extra    string
	Runs     []workflow.Run // the rules this event met
}

// showEvent is an event's permalink: what, who, when, from where, and why
// (the event that caused it, and the events it caused).
func (a *App) showEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.notFound(w, r, "Event "+r.PathValue("id"))
		return
	}
	ev, err := a.issues.Event(ctx, a.db, id)
	if errors.Is(err, activity.ErrEventNotFound) {
		a.notFound(w, r, "Event "+r.PathValue("id"))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	entries, err := a.issues.Resolve(ctx, a.db, []activity.Event{ev})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := eventData{Entry: describe(entries[0], nil), Extra: prettyJSON(ev.Extra)}
	var issue Issue
	if sid, err := strconv.ParseInt(ev.SubjectID, 10, 64); err == nil && a.db.WithContext(ctx).Take(&issue, sid).Error == nil {
		d.Issue = &issue
	}
	if cause, ok := ev.Cause(); ok {
		d.CauseRef = cause.String()
		if cause.Domain == a.issues.Name() {
			if ce, err := a.issues.Event(ctx, a.db, cause.ID); err == nil {
				if ces, err := a.issues.Resolve(ctx, a.db, []activity.Event{ce}); err == nil {
					v := describe(ces[0], map[string]string{})
					d.Cause = &v
				}
			}
		}
	}
	ref := ev.Ref()
	d.Caused, err = a.feed(r, activity.FeedQuery{CausedBy: &ref, Limit: 50}, r.URL.Path, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if d.Runs, err = a.rules.Runs(ctx, workflow.RunQuery{Event: &ref, Limit: 100}); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "event", "Event "+strconv.FormatInt(ev.ID, 10), "events", d)
}
