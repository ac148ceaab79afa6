package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// entryView is one feed event as a page shows it: an icon, the actor, a
// sentence, the object it is about, and when.
type entryView struct {
	activity.Entry
	Icon       string
	ActorName  string
	ActorHref  string
	Verb       string // "added the label"
	Object     string // "bug"
	ObjectHref string
	Detail     string // a comment's text, shown under the line
	Deleted    bool   // the record's row is gone
	IssueTitle string // for feeds across issues
	IssueHref  string
	Href       string // the event's permalink
}

// groupView is a run of consecutive similar events (Ana added 3 labels),
// or one event.
type groupView struct {
	First   entryView
	Items   []entryView
	Summary string // "added 3 labels"; empty for a single event
	Inline  bool   // show the items' objects inline (labels) rather than as a list
}

// feedView is one page of a feed.
type feedView struct {
	Groups    []groupView
	Next      string // URL of the next page, "" on the last
	Fragment  string // URL of the next page as a fragment, for "load more"
	ShowIssue bool
	Empty     string
}

var actionIcons = map[string]string{
	ActionIssueOpened:    "✚",
	ActionIssueViewed:    "◉",
	ActionCommentAdded:   "✎",
	ActionCommentDeleted: "✖",
	ActionCommentViewed:  "◉",
	ActionLabelAdded:     "⚑",
	ActionLabelRemoved:   "⚐",
	ActionAssigned:       "➔",
	ActionStatusChanged:  "⇄",
	ActionIssueClosed:    "✔",
	ActionNoActivity:     "◷",
}

// groupable actions fold into one line when one actor repeats them.
var groupable = map[string]string{
	ActionLabelAdded:     "added %d labels",
	ActionLabelRemoved:   "removed %d labels",
	ActionCommentAdded:   "added %d comments",
	ActionCommentDeleted: "deleted %d comments",
}

// groupGap is the longest pause between two events of one group.
const groupGap = time.Hour

// describe renders an entry's sentence.
func describe(e activity.Entry, issueTitles map[string]string) entryView {
	v := entryView{Entry: e, Icon: actionIcons[e.Action], ActorName: e.ActorName(), Href: fmt.Sprintf("/events/%d", e.ID)}
	if v.Icon == "" {
		v.Icon = "•"
	}
	if e.ActorType == "users" {
		v.ActorHref = "/users/" + e.ActorID
	}
	if issueTitles != nil {
		v.IssueTitle = issueTitles[e.SubjectID]
		if v.IssueTitle == "" {
			v.IssueTitle = "#" + e.SubjectID
		}
		v.IssueHref = "/issues/" + e.SubjectID
	}
	x := e.ExtraMap()
	str := func(k string) string {
		if s, ok := x[k].(string); ok {
			return s
		}
		return ""
	}
	v.Deleted = e.RecordDeleted()
	switch e.Action {
	case ActionIssueOpened:
		v.Verb = "opened the issue"
		if s := str("title"); s != "" {
			v.Object = s
		}
	case ActionIssueViewed:
		v.Verb = "viewed the issue"
	case ActionCommentAdded:
		v.Verb = "commented"
		v.Detail = e.RecordName()
		if c, ok := e.RecordValue.(*Comment); ok {
			v.Detail = excerpt(c.Body, 280)
		}
	case ActionCommentDeleted:
		v.Verb = "deleted a comment"
		v.Detail = e.RecordName()
	case ActionCommentViewed:
		v.Verb = "read the comment"
		v.Object = e.RecordName()
	case ActionLabelAdded, ActionLabelRemoved:
		v.Verb = "added the label"
		if e.Action == ActionLabelRemoved {
			v.Verb = "removed the label"
		}
		v.Object = str("name")
		if v.Object == "" {
			v.Object = e.RecordName()
		}
		v.Deleted = false
	case ActionAssigned:
		if to := str("to"); to != "" {
			v.Verb, v.Object = "assigned", to
			if r := e.Record(); r != nil && r.Type == "users" {
				v.ObjectHref = "/users/" + r.ID
			}
		} else {
			v.Verb = "unassigned " + str("from")
		}
		v.Deleted = false
	case ActionStatusChanged:
		v.Verb = "changed the status"
		if str("from") != "" || str("to") != "" {
			v.Object = statusName(str("from")) + " → " + statusName(str("to"))
		}
	case ActionIssueClosed:
		v.Verb = "closed the issue"
	case ActionNoActivity:
		v.Verb = "noticed no activity"
		if t, err := time.Parse(time.RFC3339, str("since")); err == nil {
			v.Object = "since " + t.Format("2 Jan 2006")
		}
	default:
		v.Verb = e.Action
	}
	return v
}

// group folds consecutive similar entries: same subject, actor and
// groupable action, each within groupGap of the next.
func group(views []entryView) []groupView {
	var out []groupView
	for _, v := range views {
		if n := len(out); n > 0 {
			g := &out[n-1]
			last := g.Items[len(g.Items)-1]
			if _, ok := groupable[v.Action]; ok && v.Action == last.Action && v.SubjectID == last.SubjectID &&
				v.ActorType == last.ActorType && v.ActorID == last.ActorID &&
				last.OccurredAt.Sub(v.OccurredAt) <= groupGap {
				g.Items = append(g.Items, v)
				g.Summary = fmt.Sprintf(groupable[v.Action], len(g.Items))
				g.Inline = v.Action == ActionLabelAdded || v.Action == ActionLabelRemoved
				continue
			}
		}
		out = append(out, groupView{First: v, Items: []entryView{v}})
	}
	return out
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
		var issues []Issue
		if len(ids) > 0 {
			if err := a.db.WithContext(ctx).Select("id", "title").Where("id IN ?", ids).Find(&issues).Error; err != nil {
				return feedView{}, err
			}
		}
		titles = make(map[string]string, len(issues))
		for _, is := range issues {
			titles[strconv.FormatInt(is.ID, 10)] = is.Title
		}
	}
	views := make([]entryView, len(page.Entries))
	for i, e := range page.Entries {
		views[i] = describe(e, titles)
	}
	return feedView{Groups: group(views), ShowIssue: showIssue}, nil
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

// ago renders t relative to now: "just now", "3 min ago", "2 h ago",
// "yesterday", "5 days ago", then the date.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", max(1, int(d.Round(time.Minute)/time.Minute)))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 48*time.Hour:
		return "yesterday"
	case d < 30*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
	return t.Format("2 Jan 2006")
}
