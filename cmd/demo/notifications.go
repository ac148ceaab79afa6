package main

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/notify"
)

type notificationView struct {
	entryView
	NotificationID int64
	Unread         bool
	Created        string
}

type notificationsData struct {
	Items  []notificationView
	Unread int64
	Next   string
}

// listNotifications shows the current user's notifications, newest first,
// unread ones highlighted; ?fragment=1 renders the list alone, for the live
// refresh.
func (a *App) listNotifications(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := a.currentUser(r)
	recipient := strconv.FormatInt(me.ID, 10)
	page, err := notify.List(ctx, a.db, notify.Query{Recipient: recipient, After: notify.Cursor(r.URL.Query().Get("after")), Limit: 30})
	if errors.Is(err, notify.ErrInvalidCursor) {
		http.Error(w, "this page link is broken: start from the first page", http.StatusBadRequest)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := notificationsData{}
	if d.Unread, err = notify.UnreadCount(ctx, a.db, recipient); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := notify.MarkSeen(ctx, a.db, recipient); err != nil {
		a.fail(w, r, err)
		return
	}
	ids := map[int64]bool{}
	for _, n := range page.Notifications {
		if id, err := strconv.ParseInt(n.SubjectID, 10, 64); err == nil {
			ids[id] = true
		}
	}
	var issues []Issue
	if err := a.db.WithContext(ctx).Select("id", "title").Where("id IN ?", keys(ids)).Find(&issues).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	titles := map[string]string{}
	for _, is := range issues {
		titles[strconv.FormatInt(is.ID, 10)] = is.Title
	}
	for _, n := range page.Notifications {
		ev := activity.Event{ID: n.Event.ID, Domain: n.Event.Domain, SubjectID: n.SubjectID, Action: n.Action,
			ActorType: n.Actor.Type, ActorID: n.Actor.ID, ActorLabel: n.Actor.Label, OccurredAt: n.OccurredAt, Extra: []byte("{}")}
		if n.Record != nil {
			ev.RecordType, ev.RecordID, ev.RecordLabel = &n.Record.Type, &n.Record.ID, &n.Record.Label
		}
		v := describe(activity.Entry{Event: ev}, titles)
		v.Deleted = false
		d.Items = append(d.Items, notificationView{entryView: v, NotificationID: n.ID, Unread: n.Unread()})
	}
	if page.Next != "" {
		d.Next = "/notifications?after=" + string(page.Next)
	}
	if r.URL.Query().Get("fragment") == "1" {
		a.renderFragment(w, r, "notifications", "notification-list", d)
		return
	}
	a.render(w, r, http.StatusOK, "notifications", "Notifications", "notifications", d)
}

// markRead marks one of the current user's notifications read.
func (a *App) markRead(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if _, err := notify.MarkRead(r.Context(), a.db, strconv.FormatInt(me.ID, 10), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.live.publish()
	http.Redirect(w, r, "/notifications", http.StatusSeeOther)
}

// markAllRead marks every notification of the current user read.
func (a *App) markAllRead(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	if _, err := notify.MarkAllRead(r.Context(), a.db, strconv.FormatInt(me.ID, 10)); err != nil {
		a.fail(w, r, err)
		return
	}
	a.live.publish()
	http.Redirect(w, r, "/notifications", http.StatusSeeOther)
}
