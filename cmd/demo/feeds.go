package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
)

// feed loads the page of q that the request's ?after= asks for and renders
// it, with links to the next page at base (a page) and base as a fragment.
func (a *App) feed(r *http.Request, q activity.FeedQuery, base string, showIssue bool) (feedView, error) {
	q.After = activity.Cursor(r.URL.Query().Get("after"))
	if q.Limit == 0 {
		q.Limit = a.cfg.FeedPageSize
	}
	page, err := a.issues.Feed(r.Context(), a.db, q)
	if err != nil {
		return feedView{}, err
	}
	v, err := a.buildFeed(r.Context(), page, showIssue)
	if err != nil {
		return feedView{}, err
	}
	if page.Next != "" {
		u, _ := url.Parse(base)
		qs := r.URL.Query()
		qs.Set("after", page.Next.String())
		qs.Del("fragment")
		u.RawQuery = qs.Encode()
		v.Next = u.String()
		qs.Set("fragment", "1")
		u.RawQuery = qs.Encode()
		v.Fragment = u.String()
	}
	return v, nil
}

type feedPageData struct {
	Heading string
	Sub     string
	Feed    feedView
}

// serveFeed serves a page of a feed: the entries alone for "load more"
// (?fragment=1), else a page of its own.
func (a *App) serveFeed(w http.ResponseWriter, r *http.Request, q activity.FeedQuery, showIssue bool, heading string) {
	v, err := a.feed(r, q, r.URL.Path, showIssue)
	if errors.Is(err, activity.ErrInvalidCursor) {
		http.Error(w, "this page link is broken: its after= cursor was not made by the feed; start from the first page", http.StatusBadRequest)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("fragment") == "1" {
		a.renderFragment(w, r, "feed", "feed-page", v)
		return
	}
	a.render(w, r, http.StatusOK, "feed", heading, "", feedPageData{Heading: heading, Feed: v})
}

// projectFeed shows the activity of all of a project's issues.
func (a *App) projectFeed(w http.ResponseWriter, r *http.Request) {
	var p Project
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := a.inOrg(r.Context()).Take(&p, id).Error; err != nil {
		a.notFound(w, r, "Project "+r.PathValue("id"))
		return
	}
	q := activity.FeedQuery{
		SubjectsIn: a.db.Model(&Issue{}).Select("id").Where("project_id = ?", p.ID),
		Actions:    feedActions(a.issues),
	}
	a.serveFeed(w, r, q, true, fmt.Sprintf("Activity in %s", p.Name))
}

// userFeed shows what one user did, across issues.
func (a *App) userFeed(w http.ResponseWriter, r *http.Request) {
	var u User
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := a.inOrg(r.Context()).Take(&u, id).Error; err != nil {
		a.notFound(w, r, "User "+r.PathValue("id"))
		return
	}
	a.serveFeed(w, r, activity.FeedQuery{Actor: &u, Actions: feedActions(a.issues)}, true, "What "+u.Name+" did")
}
