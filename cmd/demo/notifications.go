package main

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web/feedview"
)

type notificationView struct {
	feedview.Line
	NotificationID int64
	Unread         bool
	Archived       bool
	// Title is the notification worded in the reader's language: for a
	// collapsed one ("Ana and 4 others commented on #12") and for readers
	// of another language than English. Empty: the feed line shows.
	Title string
}

type notificationsData struct {
	Items    []notificationView
	Unread   int64
	Next     string
	Archived bool   // the archive tab
	Center   string // the notification center's path, where the buttons post
	Back     string // where the buttons come back to
	Fragment string // this list alone, for the live refresh
	Push     bool   // the center offers "notify me on this browser"
}

// listNotifications shows the current user's notifications, newest first,
// unread ones highlighted (?archived=1: the archived ones); ?fragment=1
// renders the list alone, for the live refresh. Its buttons post to the
// mounted notification center (web/notifycenter), which comes back here.
func (a *App) listNotifications(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := a.currentUser(r)
	recipient := strconv.FormatInt(me.ID, 10)
	qs := r.URL.Query()
	d := notificationsData{Archived: qs.Get("archived") == "1", Center: centerPrefix, Back: "/notifications", Fragment: "/notifications?fragment=1", Push: a.fan.push != nil}
	if d.Archived {
		d.Back, d.Fragment = "/notifications?archived=1", "/notifications?archived=1&fragment=1"
	}
	page, err := notify.List(ctx, a.db, notify.Query{Recipient: recipient, After: notify.Cursor(qs.Get("after")), Limit: 30, Archived: d.Archived})
	if errors.Is(err, notify.ErrInvalidCursor) {
		http.Error(w, "this page link is broken: start from the first page", http.StatusBadRequest)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if d.Unread, err = notify.UnreadCount(ctx, a.db, recipient); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := notify.MarkSeen(ctx, a.db, recipient); err != nil {
		a.fail(w, r, err)
		return
	}
	lines, err := a.notificationLines(ctx, page.Notifications)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for i, n := range page.Notifications {
		v := notificationView{Line: lines[i], NotificationID: n.ID, Unread: n.Unread(), Archived: n.Archived()}
		if lang := a.fan.catalog.Match(me.Locale); n.ItemCount > 1 || lang != a.fan.catalog.Fallback() {
			v.Title = n.Title(a.fan.catalog, lang)
		}
		d.Items = append(d.Items, v)
	}
	if page.Next != "" {
		d.Next = d.Back + "&after=" + string(page.Next)
		if !d.Archived {
			d.Next = "/notifications?after=" + string(page.Next)
		}
	}
	if qs.Get("fragment") == "1" {
		a.renderFragment(w, r, "notifications", "notification-list", d)
		return
	}
	a.render(w, r, http.StatusOK, "notifications", "Notifications", "notifications", d)
}
