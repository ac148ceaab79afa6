package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/feedview"
)

// feedView is one page of a feed, rendered by web/feedview.
type feedView struct {
	Groups    []feedview.Group
	Next      string // URL of the next page, "" on the last
	Fragment  string // URL of the next page as a fragment, for "load more"
	ShowIssue bool
	Empty     string
}

// eventPath is an issue event's permalink in the mounted event browser.
func eventPath(id int64) string { return fmt.Sprintf("%s/issue/%d", eventsPrefix, id) }

// newFeedRenderer tells the issue domain's actions as sentences.
func newFeedRenderer() *feedview.Renderer {
	comment := func(e activity.Entry) string {
		if c, ok := e.RecordValue.(*Comment); ok {
			return excerpt(c.Body, 280)
		}
		return e.RecordName()
	}
	extra := feedview.ExtraString
	return feedview.New(feedview.Config{
		Actions: map[string]feedview.Action{
			ActionIssueOpened:    {Icon: "✚", Verb: "opened the issue", Object: extra("title"), AboutSubject: true},
			ActionIssueViewed:    {Icon: "◉", Verb: "viewed the issue"},
			ActionCommentAdded:   {Icon: "✎", Verb: "commented", Detail: comment, Fold: "added %d comments"},
			ActionCommentDeleted: {Icon: "✖", Verb: "deleted a comment", Detail: feedview.RecordLabel, Fold: "deleted %d comments"},
			ActionCommentViewed:  {Icon: "◉", Verb: "read the comment", Object: feedview.RecordLabel},
			ActionLabelAdded:     {Icon: "⚑", Verb: "added the label", Describe: labelLine("added the label"), Fold: "added %d labels", Inline: true},
			ActionLabelRemoved:   {Icon: "⚐", Verb: "removed the label", Describe: labelLine("removed the label"), Fold: "removed %d labels", Inline: true},
			ActionAssigned:       {Icon: "➔", Describe: assignedLine},
			ActionStatusChanged:  {Icon: "⇄", Verb: "changed the status", Describe: statusLine},
			ActionIssueClosed:    {Icon: "✔", Verb: "closed the issue"},
			ActionNoActivity:     {Icon: "◷", Verb: "noticed no activity", Describe: staleLine},
		},
		Permalink: func(e activity.Entry) string { return eventPath(e.ID) },
		ActorHref: func(r activity.Ref) string {
			if r.Type == "users" {
				return "/users/" + r.ID
			}
			return ""
		},
		SubjectHref: func(_, id string) string { return "/issues/" + id },
	})
}

func labelLine(verb string) func(e activity.Entry, l *feedview.Line) {
	return func(e activity.Entry, l *feedview.Line) {
		l.Verb = verb
		l.Object = feedview.ExtraString("name")(e)
		if l.Object == "" {
			l.Object = e.RecordName()
		}
		l.Deleted = false
	}
}

func assignedLine(e activity.Entry, l *feedview.Line) {
	to, from := feedview.ExtraString("to")(e), feedview.ExtraString("from")(e)
	if to != "" {
		l.Verb, l.Object = "assigned", to
		if r := e.Record(); r != nil && r.Type == "users" {
			l.ObjectHref = "/users/" + r.ID
		}
	} else {
		l.Verb = "unassigned " + from
	}
	l.Deleted = false
}

func statusLine(e activity.Entry, l *feedview.Line) {
	from, to := feedview.ExtraString("from")(e), feedview.ExtraString("to")(e)
	if from != "" || to != "" {
		l.Object = statusName(from) + " → " + statusName(to)
	}
}

func staleLine(e activity.Entry, l *feedview.Line) {
	if t, err := time.Parse(time.RFC3339, feedview.ExtraString("since")(e)); err == nil {
		l.Object = "since " + t.Format("2 Jan 2006")
	}
}

// buildFeed renders a page of a feed; showIssue names each event's issue.
func (a *App) buildFeed(ctx context.Context, page activity.Page, showIssue bool) (feedView, error) {
	var titles map[string]string
	if showIssue {
		ids := make([]int64, 0, len(page.Entries))
		for _, e := range page.Entries {
			if id, err := strconv.ParseInt(e.SubjectID, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		var err error
		if titles, err = a.titlesOf(ctx, ids); err != nil {
			return feedView{}, err
		}
	}
	return feedView{Groups: a.feedr.Fold(a.feedr.Lines(page.Entries, titles)), ShowIssue: showIssue}, nil
}

// titlesOf loads the titles of issues by id, keyed by the id as text.
func (a *App) titlesOf(ctx context.Context, ids []int64) (map[string]string, error) {
	set := map[int64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	var issues []Issue
	if err := a.db.WithContext(ctx).Select("id", "title").Where("id IN ?", keys(set)).Find(&issues).Error; err != nil {
		return nil, err
	}
	out := make(map[string]string, len(issues))
	for _, is := range issues {
		out[strconv.FormatInt(is.ID, 10)] = is.Title
	}
	return out, nil
}

func statusName(s string) string {
	switch s {
	case StatusOpen:
		return "open"
	case StatusInProgress:
		return "in progress"
	case StatusClosed:
		return "closed"
	case "":
		return "?"
	}
	return s
}
