package main

import (
	"context"
	"net/http"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// notificationDefaults are the demo's choices before anyone chooses:
// label mail is off until a person turns it on; being assigned an issue is
// critical (nobody can mute it, in the app or by mail).
func notificationDefaults() *inbox.Defaults {
	return &inbox.Defaults{
		Off:      []inbox.Kind{{Channel: inbox.ChannelEmail, Domain: "issue", Action: ActionLabelAdded}},
		Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: ActionAssigned}},
	}
}

// signedIn reports whether the request carries a user cookie naming a
// user (the demo has no passwords; a request without a session is
// refused the person data pages).
func (a *App) signedIn(r *http.Request) bool {
	c, err := r.Cookie(userCookie)
	if err != nil {
		return false
	}
	id, err := strconv.ParseInt(c.Value, 10, 64)
	if err != nil {
		return false
	}
	var n int64
	return a.db.WithContext(r.Context()).Model(&User{}).Where("id = ?", id).Count(&n).Error == nil && n == 1
}

func parseIDs(ids []string) []int64 {
	out := make([]int64, 0, len(ids))
	for _, s := range ids {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// describeNotifications gives the center's items a sentence and a link.
func (a *App) describeNotifications(ctx context.Context, ns []notify.Notification) ([]notifycenter.Description, error) {
	lines, err := a.notificationLines(ctx, ns)
	if err != nil {
		return nil, err
	}
	out := make([]notifycenter.Description, len(lines))
	for i, l := range lines {
		text := l.ActorName + " " + l.Verb
		if l.Object != "" {
			text += " " + l.Object
		}
		if l.Subject != "" {
			text += " on " + l.Subject
		}
		out[i] = notifycenter.Description{Text: text, URL: "/issues/" + l.SubjectID}
	}
	return out, nil
}

// notificationLines renders notifications as feed lines, with their
// issues' titles.
func (a *App) notificationLines(ctx context.Context, ns []notify.Notification) ([]feedview.Line, error) {
	ids := make([]int64, 0, len(ns))
	for _, n := range ns {
		if id, err := strconv.ParseInt(n.SubjectID, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	titles, err := a.titlesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]feedview.Line, len(ns))
	for i, n := range ns {
		ev := activity.Event{ID: n.Event.ID, Domain: n.Event.Domain, SubjectID: n.SubjectID, Action: n.Action,
			ActorType: n.Actor.Type, ActorID: n.Actor.ID, ActorLabel: n.Actor.Label, OccurredAt: n.OccurredAt, Extra: []byte("{}")}
		if n.Record != nil {
			ev.RecordType, ev.RecordID, ev.RecordLabel = &n.Record.Type, &n.Record.ID, &n.Record.Label
		}
		l := a.feedr.Line(activity.Entry{Event: ev}, titles)
		l.Deleted = false
		out[i] = l
	}
	return out, nil
}
