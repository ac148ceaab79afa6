package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tidingsdev/tidings/activity"
)

// viewThrottle is the window within which repeated views of an issue by one
// user fold into one issue_viewed event.
const viewThrottle = 15 * time.Minute

type issueRow struct {
	Issue
	Project  Project
	Author   User
	Assignee *User
	Labels   []Label
	Comments int64
}

type issuesData struct {
	Issues   []issueRow
	Projects []Project
	Project  *Project
	Status   string
	Errors   map[string]string
	Form     map[string]string
}

// listIssues shows the issues, newest first, filtered by project and status.
func (a *App) listIssues(w http.ResponseWriter, r *http.Request) {
	a.renderIssues(w, r, http.StatusOK, nil, nil)
}

func (a *App) renderIssues(w http.ResponseWriter, r *http.Request, status int, errs, form map[string]string) {
	ctx := r.Context()
	d := issuesData{Status: r.URL.Query().Get("status"), Errors: errs, Form: form}
	db := a.inOrg(ctx) // this organisation's projects and issues
	if err := db.Order("id").Find(&d.Projects).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	q := db.Order("id DESC")
	if pid, err := strconv.ParseInt(r.URL.Query().Get("project"), 10, 64); err == nil {
		for i := range d.Projects {
			if d.Projects[i].ID == pid {
				d.Project = &d.Projects[i]
			}
		}
		q = q.Where("project_id = ?", pid)
	}
	switch d.Status {
	case "all":
	case StatusClosed:
		q = q.Where("status = ?", StatusClosed)
	default:
		d.Status = "active"
		q = q.Where("status <> ?", StatusClosed)
	}
	var issues []Issue
	if err := q.Limit(200).Find(&issues).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	rows, err := a.loadIssueRows(ctx, issues)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d.Issues = rows
	a.render(w, r, status, "issues", "Issues", "issues", d)
}

// loadIssueRows loads the projects, people, labels and comment counts of
// issues in a fixed number of queries.
func (a *App) loadIssueRows(ctx context.Context, issues []Issue) ([]issueRow, error) {
	db := a.db.WithContext(ctx)
	ids := make([]int64, len(issues))
	userIDs := map[int64]bool{}
	projectIDs := map[int64]bool{}
	for i, is := range issues {
		ids[i] = is.ID
		userIDs[is.AuthorID] = true
		if is.AssigneeID != nil {
			userIDs[*is.AssigneeID] = true
		}
		projectIDs[is.ProjectID] = true
	}
	users := map[int64]User{}
	var us []User
	if err := db.Where("id IN ?", keys(userIDs)).Find(&us).Error; err != nil {
		return nil, err
	}
	for _, u := range us {
		users[u.ID] = u
	}
	projects := map[int64]Project{}
	var ps []Project
	if err := db.Where("id IN ?", keys(projectIDs)).Find(&ps).Error; err != nil {
		return nil, err
	}
	for _, p := range ps {
		projects[p.ID] = p
	}
	var links []struct {
		IssueID int64
		Label
	}
	if err := db.Table("issue_labels il").Select("il.issue_id, l.*").Joins("JOIN labels l ON l.id = il.label_id").
		Where("il.issue_id IN ?", ids).Order("l.name").Scan(&links).Error; err != nil {
		return nil, err
	}
	labels := map[int64][]Label{}
	for _, l := range links {
		labels[l.IssueID] = append(labels[l.IssueID], l.Label)
	}
	var counts []struct {
		IssueID int64
		N       int64
	}
	if err := db.Model(&Comment{}).Select("issue_id, count(*) AS n").Where("issue_id IN ?", ids).Group("issue_id").Scan(&counts).Error; err != nil {
		return nil, err
	}
	n := map[int64]int64{}
	for _, c := range counts {
		n[c.IssueID] = c.N
	}
	rows := make([]issueRow, len(issues))
	for i, is := range issues {
		rows[i] = issueRow{Issue: is, Project: projects[is.ProjectID], Author: users[is.AuthorID], Labels: labels[is.ID], Comments: n[is.ID]}
		if is.AssigneeID != nil {
			if u, ok := users[*is.AssigneeID]; ok {
				rows[i].Assignee = &u
			}
		}
	}
	return rows, nil
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m)+1)
	for k := range m {
		out = append(out, k)
	}
	if len(out) == 0 {
		out = append(out, 0) // IN () is not SQL
	}
	return out
}

// createIssue opens an issue and records issue_opened.
func (a *App) createIssue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := a.currentUser(r)
	if err := parseForm(w, r); err != nil {
		a.renderIssues(w, r, http.StatusRequestEntityTooLarge, map[string]string{"body": "This is too long: keep the description under 10,000 characters."}, nil)
		return
	}
	title := strings.TrimSpace(r.FormValue("title"))
	body := strings.TrimSpace(r.FormValue("body"))
	pid, _ := strconv.ParseInt(r.FormValue("project_id"), 10, 64)
	errs := map[string]string{}
	if p := textProblem("title", title); p != "" {
		errs["title"], title = p, ""
	} else if title == "" {
		errs["title"] = "Give the issue a title."
	} else if utf8.RuneCountInString(title) > 200 {
		errs["title"] = "Keep the title under 200 characters."
	}
	if p := textProblem("description", body); p != "" {
		errs["body"], body = p, ""
	} else if utf8.RuneCountInString(body) > 10000 {
		errs["body"] = "Keep the description under 10,000 characters."
	}
	var project Project
	if a.inOrg(ctx).Take(&project, pid).Error != nil { // a project of this organisation
		errs["project_id"] = "Pick a project."
	}
	if len(errs) > 0 {
		a.renderIssues(w, r, http.StatusUnprocessableEntity, errs, map[string]string{"title": title, "body": body})
		return
	}
	issue := Issue{OrgID: project.OrgID, ProjectID: project.ID, Title: title, Body: body, Status: StatusOpen, AuthorID: me.ID}
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&issue).Error; err != nil {
			return err
		}
		if err := subscribe(tx, issue.ID, me.ID, "author"); err != nil {
			return err
		}
		_, err := a.issues.RecordEvent(ctx, tx, issue.ID, ActionIssueOpened, activity.Extra{"title": issue.Title})
		return err
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/issues/%d", issue.ID), http.StatusSeeOther)
}

func subscribe(tx *gorm.DB, issueID, userID int64, reason string) error {
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Subscriber{IssueID: issueID, UserID: userID, Reason: reason}).Error
}

type commentView struct {
	Comment
	Author *User // nil for a workflow's comment
}

type issueData struct {
	issueRow
	CommentList []commentView
	Feed        feedView
	AllViews    bool
	Statuses    []string
	Errors      map[string]string
	Form        map[string]string
}

// loadIssue loads the {id} issue or writes a 404.
func (a *App) loadIssue(w http.ResponseWriter, r *http.Request) (*Issue, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var issue Issue
	if err == nil {
		err = a.inOrg(r.Context()).Take(&issue, id).Error // another organisation's issue is not found
	}
	var numErr *strconv.NumError
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.As(err, &numErr) || id <= 0 {
		a.notFound(w, r, "Issue "+r.PathValue("id"))
		return nil, false
	}
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	return &issue, true
}

// showIssue shows an issue with its comments, labels and feed, and records
// that the current user viewed it (throttled: once per 15 minutes).
func (a *App) showIssue(w http.ResponseWriter, r *http.Request) {
	issue, ok := a.loadIssue(w, r)
	if !ok {
		return
	}
	if _, err := a.issues.RecordEvent(r.Context(), a.db, issue.ID, ActionIssueViewed, activity.ThrottleWithin(viewThrottle)); err != nil {
		a.cfg.Log("record view of issue %d: %v", issue.ID, err)
	}
	a.renderIssue(w, r, http.StatusOK, issue, nil, nil)
}

func (a *App) renderIssue(w http.ResponseWriter, r *http.Request, status int, issue *Issue, errs, form map[string]string) {
	ctx := r.Context()
	rows, err := a.loadIssueRows(ctx, []Issue{*issue})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := issueData{issueRow: rows[0], Statuses: statuses, Errors: errs, Form: form, AllViews: r.URL.Query().Get("views") == "1"}
	var comments []Comment
	if err := a.db.WithContext(ctx).Where("issue_id = ?", issue.ID).Order("id").Find(&comments).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	authors := map[int64]User{}
	var us []User
	ids := map[int64]bool{}
	for _, c := range comments {
		if c.AuthorID != nil {
			ids[*c.AuthorID] = true
		}
	}
	if err := a.db.WithContext(ctx).Where("id IN ?", keys(ids)).Find(&us).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	for _, u := range us {
		authors[u.ID] = u
	}
	for _, c := range comments {
		v := commentView{Comment: c}
		if c.AuthorID != nil {
			if u, ok := authors[*c.AuthorID]; ok {
				v.Author = &u
			}
		}
		d.CommentList = append(d.CommentList, v)
	}
	d.Feed, err = a.feed(r, a.issueFeedQuery(issue, d.AllViews), fmt.Sprintf("/issues/%d/feed", issue.ID), false)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, "issue", issue.Title, "issues", d)
}

func (a *App) issueFeedQuery(issue *Issue, allViews bool) activity.FeedQuery {
	q := activity.FeedQuery{Subject: issue.ID}
	if !allViews {
		q.Actions = feedActions(a.issues)
	}
	return q
}

// issueFeed serves more of an issue's feed: a fragment for "load more", or
// the issue page without JavaScript.
func (a *App) issueFeed(w http.ResponseWriter, r *http.Request) {
	issue, ok := a.loadIssue(w, r)
	if !ok {
		return
	}
	a.serveFeed(w, r, a.issueFeedQuery(issue, r.URL.Query().Get("views") == "1"), false, "Activity of "+issue.Title)
}

// mutate runs fn in a transaction on the {id} issue, then redirects back to
// it; fn returns form errors to show at their fields.
func (a *App) mutate(w http.ResponseWriter, r *http.Request, fn func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error)) {
	issue, ok := a.loadIssue(w, r)
	if !ok {
		return
	}
	me := a.currentUser(r)
	if err := parseForm(w, r); err != nil {
		a.renderIssue(w, r, http.StatusRequestEntityTooLarge, issue, map[string]string{"body": "This is too long: keep comments under 10,000 characters.",
			"label": "This is too long: keep label names under 50 characters."}, nil)
		return
	}
	var errs map[string]string
	err := a.db.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
		// Lock the issue: concurrent changes see each other's "from".
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(issue, issue.ID).Error; err != nil {
			return err
		}
		var err error
		errs, err = fn(tx, issue, me)
		if err == nil && len(errs) > 0 {
			err = errFormInvalid
		}
		return err
	})
	if errors.Is(err, errFormInvalid) {
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = strings.ReplaceAll(strings.ToValidUTF8(r.PostForm.Get(k), "\uFFFD"), "\x00", "")
		}
		a.renderIssue(w, r, http.StatusUnprocessableEntity, issue, errs, form)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/issues/%d#feed", issue.ID), http.StatusSeeOther)
}

var errFormInvalid = errors.New("the form has errors")

// addComment adds a comment, subscribes its author, records comment_added.
func (a *App) addComment(w http.ResponseWriter, r *http.Request) {
	a.mutate(w, r, func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error) {
		body := strings.TrimSpace(r.FormValue("body"))
		if p := textProblem("comment", body); p != "" {
			return map[string]string{"body": p}, nil
		}
		switch {
		case body == "":
			return map[string]string{"body": "Write something first."}, nil
		case utf8.RuneCountInString(body) > 10000:
			return map[string]string{"body": "Keep comments under 10,000 characters."}, nil
		}
		c := Comment{IssueID: issue.ID, AuthorID: &me.ID, Body: body}
		if err := tx.Create(&c).Error; err != nil {
			return nil, err
		}
		if err := subscribe(tx, issue.ID, me.ID, "commented"); err != nil {
			return nil, err
		}
		_, err := a.issues.RecordEvent(r.Context(), tx, issue.ID, ActionCommentAdded, activity.Record(&c),
			activity.Extra{"length": utf8.RuneCountInString(body)})
		return nil, err
	})
}

// deleteComment deletes a comment and records comment_deleted; the feed
// keeps the comment's excerpt from the event's label snapshot.
func (a *App) deleteComment(w http.ResponseWriter, r *http.Request) {
	a.mutate(w, r, func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error) {
		var c Comment
		cid, _ := strconv.ParseInt(r.PathValue("cid"), 10, 64)
		if err := tx.Where("issue_id = ?", issue.ID).Take(&c, cid).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return map[string]string{"comments": "That comment is already gone."}, nil
			}
			return nil, err
		}
		if _, err := a.issues.RecordEvent(r.Context(), tx, issue.ID, ActionCommentDeleted, activity.Record(&c)); err != nil {
			return nil, err
		}
		return nil, tx.Delete(&c).Error
	})
}

// addLabel adds a label by name (creating it in the project) and records
// label_added.
func (a *App) addLabel(w http.ResponseWriter, r *http.Request) {
	a.mutate(w, r, func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error) {
		name := strings.Join(strings.Fields(r.FormValue("name")), " ")
		if p := textProblem("label", name); p != "" {
			return map[string]string{"label": p}, nil
		}
		switch {
		case name == "":
			return map[string]string{"label": "Name the label."}, nil
		case utf8.RuneCountInString(name) > 50:
			return map[string]string{"label": "Keep label names under 50 characters."}, nil
		}
		l := Label{ProjectID: issue.ProjectID, Name: name}
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "project_id"}, {Name: "name"}}, DoNothing: true}).Create(&l).Error; err != nil {
			return nil, err
		}
		if err := tx.Where("project_id = ? AND name = ?", issue.ProjectID, name).Take(&l).Error; err != nil {
			return nil, err
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&IssueLabel{IssueID: issue.ID, LabelID: l.ID})
		if res.Error != nil || res.RowsAffected == 0 {
			return nil, res.Error // already labelled: nothing happened
		}
		_, err := a.issues.RecordEvent(r.Context(), tx, issue.ID, ActionLabelAdded, activity.Record(&l), activity.Extra{"name": l.Name})
		return nil, err
	})
}

// removeLabel removes a label and records label_removed.
func (a *App) removeLabel(w http.ResponseWriter, r *http.Request) {
	a.mutate(w, r, func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error) {
		lid, _ := strconv.ParseInt(r.PathValue("lid"), 10, 64)
		var l Label
		if err := tx.Take(&l, lid).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, nil
			}
			return nil, err
		}
		res := tx.Where("issue_id = ? AND label_id = ?", issue.ID, l.ID).Delete(&IssueLabel{})
		if res.Error != nil || res.RowsAffected == 0 {
			return nil, res.Error
		}
		_, err := a.issues.RecordEvent(r.Context(), tx, issue.ID, ActionLabelRemoved, activity.Record(&l), activity.Extra{"name": l.Name})
		return nil, err
	})
}

// assign sets or clears the assignee and records assigned.
func (a *App) assign(w http.ResponseWriter, r *http.Request) {
	a.mutate(w, r, func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error) {
		var from, to *User
		if issue.AssigneeID != nil {
			var u User
			if tx.Take(&u, *issue.AssigneeID).Error == nil {
				from = &u
			}
		}
		if v := r.FormValue("assignee_id"); v != "" {
			id, _ := strconv.ParseInt(v, 10, 64)
			var u User
			if err := tx.Where("org_id = ?", issue.OrgID).Take(&u, id).Error; err != nil {
				return map[string]string{"assignee": "Pick someone from the list."}, nil
			}
			to = &u
		}
		if (from == nil && to == nil) || (from != nil && to != nil && from.ID == to.ID) {
			return nil, nil
		}
		extra := activity.Extra{"from": "", "to": ""}
		opts := []activity.Option{extra}
		var toID *int64
		if from != nil {
			extra["from"] = from.Name
		}
		if to != nil {
			extra["to"] = to.Name
			toID = &to.ID
			opts = append(opts, activity.Record(to))
			if err := subscribe(tx, issue.ID, to.ID, "assigned"); err != nil {
				return nil, err
			}
		}
		if err := tx.Model(issue).Updates(map[string]any{"assignee_id": toID, "updated_at": a.cfg.Now()}).Error; err != nil {
			return nil, err
		}
		_, err := a.issues.RecordEvent(r.Context(), tx, issue.ID, ActionAssigned, opts...)
		return nil, err
	})
}

// setStatus changes the status: status_changed with {"from","to"}, or
// issue_closed when it becomes closed.
func (a *App) setStatus(w http.ResponseWriter, r *http.Request) {
	a.mutate(w, r, func(tx *gorm.DB, issue *Issue, me *User) (map[string]string, error) {
		to := r.FormValue("status")
		valid := false
		for _, s := range statuses {
			valid = valid || s == to
		}
		if !valid {
			return map[string]string{"status": "Pick open, in progress or closed."}, nil
		}
		if to == issue.Status {
			return nil, nil
		}
		from := issue.Status
		if err := tx.Model(issue).Updates(map[string]any{"status": to, "updated_at": a.cfg.Now()}).Error; err != nil {
			return nil, err
		}
		action := ActionStatusChanged
		if to == StatusClosed {
			action = ActionIssueClosed
		}
		_, err := a.issues.RecordEvent(r.Context(), tx, issue.ID, action, activity.Extra{"from": from, "to": to})
		return nil, err
	})
}
