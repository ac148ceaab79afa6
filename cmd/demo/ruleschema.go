package main

import (
	"github.com/tidingsdev/tidings/activity"

	"context"
	"strconv"

	"github.com/tidingsdev/tidings/workflow"
)

// newRuleSchema declares what workflow rules on issue events may test: the
// event's fields, the issue's (subject.*), the comment's or label's
// (record.*), and the extra each action records.
func (a *App) newRuleSchema() (*workflow.Schema, error) {
	return workflow.NewSchema(workflow.SchemaConfig{
		Domain: a.issues,
		Subject: workflow.Object{
			Fields: workflow.Fields{
				"title":      workflow.String,
				"body":       workflow.String,
				"status":     workflow.String,
				"created_at": workflow.Time,
				"labels":     workflow.ListOf(workflow.String),
				"assignee":   workflow.String,
				"author":     workflow.String,
				"comments":   workflow.Number,
			},
			Resolver: workflow.ResolverFunc(a.resolveIssue),
		},
		Records: map[string]workflow.Object{
			"comments": {
				Fields:   workflow.Fields{"body": workflow.String},
				Resolver: workflow.ResolverFunc(a.resolveComment),
			},
		},
		Extra: workflow.Fields{
			"":       workflow.ChangeOf(workflow.String), // status_changed, assigned: {"from", "to"}
			"name":   workflow.String,                    // label_added, label_removed
			"title":  workflow.String,                    // issue_opened
			"length": workflow.Number,                    // comment_added
		},
	})
}

// resolveIssue loads an issue's fields for rule conditions.
func (a *App) resolveIssue(ctx context.Context, id string) (map[string]any, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, nil
	}
	var is Issue
	q := a.db.WithContext(ctx)
	if _, ok := activity.TenantFrom(ctx); ok { // a request's dry run, or a job of the event's organisation
		q = q.Where("org_id = ?", orgOf(ctx))
	}
	res := q.Limit(1).Find(&is, n)
	if res.Error != nil || res.RowsAffected == 0 {
		return nil, res.Error
	}
	rows, err := a.loadIssueRows(ctx, []Issue{is})
	if err != nil {
		return nil, err
	}
	r := rows[0]
	labels := make([]any, len(r.Labels))
	for i, l := range r.Labels {
		labels[i] = l.Name
	}
	m := map[string]any{
		"title": is.Title, "body": is.Body, "status": is.Status, "created_at": is.CreatedAt,
		"labels": labels, "author": r.Author.Name, "comments": r.Comments,
	}
	if r.Assignee != nil {
		m["assignee"] = r.Assignee.Name
	}
	return m, nil
}

// resolveComment loads a comment's fields for rule conditions.
func (a *App) resolveComment(ctx context.Context, id string) (map[string]any, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, nil
	}
	var c Comment
	q := a.db.WithContext(ctx)
	if _, ok := activity.TenantFrom(ctx); ok {
		q = q.Where("issue_id IN (SELECT id FROM issues WHERE org_id = ?)", orgOf(ctx))
	}
	res := q.Limit(1).Find(&c, n)
	if res.Error != nil || res.RowsAffected == 0 {
		return nil, res.Error
	}
	return map[string]any{"body": c.Body}, nil
}
