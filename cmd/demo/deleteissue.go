package main

import (
	"fmt"
	"net/http"
	"net/url"
)

// deleteIssue deletes an issue with its comments, labels and
// subscriptions. Its events stay (the issue domain keeps history,
// activity.KeepHistory): the response sends the user to the event browser,
// which lists them under "deleted issue #N".
func (a *App) deleteIssue(w http.ResponseWriter, r *http.Request) {
	issue, ok := a.loadIssue(w, r)
	if !ok {
		return
	}
	if err := a.db.WithContext(r.Context()).Delete(issue).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	q := url.Values{"domain": {a.issues.Name()}, "subject": {fmt.Sprint(issue.ID)}}
	http.Redirect(w, r, eventsPrefix+"/?"+q.Encode(), http.StatusSeeOther)
}
