package main

import (
	"time"
	"unicode/utf8"
)

// User is a person of the demo. There are no passwords: the user switcher
// picks who acts.
type User struct {
	ID          int64
	OrgID       int64 // the organisation they work in: the tenant of what they do
	Name        string
	Email       string
	SlackHandle string
	Locale      string // the language they read: "en", "de"
	TimeZone    string // their clock: "Europe/Berlin"
	CreatedAt   time.Time
}

// Organisation is a tenant of the demo: its people, projects and issues
// see nothing of another's.
type Organisation struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Project groups issues.
type Project struct {
	ID        int64
	OrgID     int64
	Key       string
	Name      string
	CreatedAt time.Time
}

// Issue is the subject of the issue domain's events.
type Issue struct {
	ID         int64
	OrgID      int64 // the tenant of its events
	ProjectID  int64
	Title      string
	Body       string
	Status     string // open, in_progress, closed
	AuthorID   int64
	AssigneeID *int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Issue statuses.
const (
	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusClosed     = "closed"
)

var statuses = []string{StatusOpen, StatusInProgress, StatusClosed}

// Comment is a comment on an issue, the record of comment_* events.
type Comment struct {
	ID        int64
	IssueID   int64
	AuthorID  *int64 // nil for a comment a workflow rule wrote
	Body      string
	CreatedAt time.Time
}

// ActivityLabel is the comment's snapshot on events: the start of its body.
func (c Comment) ActivityLabel() string { return excerpt(c.Body, 80) }

// Label is a project's label, the record of label_* events.
type Label struct {
	ID        int64
	ProjectID int64
	Name      string
	CreatedAt time.Time
}

// IssueLabel links a label to an issue.
type IssueLabel struct {
	IssueID   int64 `gorm:"primaryKey"`
	LabelID   int64 `gorm:"primaryKey"`
	CreatedAt time.Time
}

// Subscriber is a user who follows an issue: its author, assignee and
// commenters. Notifications go to them.
type Subscriber struct {
	IssueID   int64 `gorm:"primaryKey"`
	UserID    int64 `gorm:"primaryKey"`
	Reason    string
	CreatedAt time.Time
}

// excerpt cuts s to at most n runes, adding an ellipsis when it cut.
func excerpt(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
