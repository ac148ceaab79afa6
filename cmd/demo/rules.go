package main

import (
	"context"
	"fmt"

	"gorm.io/gorm/clause"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// The demo's own workflow actions, next to the built-in ones.
const (
	actionReply    = "reply"
	actionAddLabel = "add_label"
	actionClose    = "close"
)

// ruleRegistry holds the actions rules may use: the built-in ones (with
// the demo's mail and Slack) and the demo's own: reply with a comment,
// add a label, close.
func (a *App) ruleRegistry() (*workflow.Registry, error) {
	cfg := workflow.RegistryConfig{}
	if f := a.fan; f.mailer != nil {
		cfg.Email = &workflow.EmailConfig{Sender: f.mailer, From: "tidings workflow <workflow@tidings-demo.localhost>", Now: a.cfg.Now}
	}
	if f := a.fan; f.slackToken != "" {
		cfg.Slack = &workflow.SlackConfig{Token: f.slackToken, APIURL: f.slackURL}
	}
	reg := workflow.NewRegistry(cfg)
	for name, act := range a.demoActions() {
		if err := reg.Register(name, act); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

func (a *App) demoActions() map[string]workflow.Action {
	return map[string]workflow.Action{
		actionReply: {
			Doc:    "Reply on the issue with a comment.",
			Params: workflow.ParamSchema{"message": {Type: workflow.String, Required: true, Doc: "the comment's text"}},
			Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
				id, err := ac.Subject()
				if err != nil {
					return workflow.Result{}, err
				}
				c := Comment{IssueID: id.(int64), Body: ac.Params.String("message")}
				if err := ac.Tx.Create(&c).Error; err != nil {
					return workflow.Result{}, err
				}
				if _, err := a.issues.RecordEvent(ctx, ac.Tx, id, ActionCommentAdded, activity.Record(&c),
					activity.Extra{"length": len([]rune(c.Body))}); err != nil {
					return workflow.Result{}, err
				}
				return workflow.Result{Summary: fmt.Sprintf("replied with comment %d", c.ID), Data: map[string]any{"comment_id": c.ID}}, nil
			},
		},
		actionAddLabel: {
			Doc:    "Add a label to the issue (made in its project if new).",
			Params: workflow.ParamSchema{"name": {Type: workflow.String, Required: true, Doc: "the label"}},
			Check: func(_ context.Context, c workflow.CheckContext) []workflow.Problem {
				if n := len([]rune(c.Params.String("name"))); n > 50 {
					return []workflow.Problem{{Field: "name", Message: fmt.Sprintf("is %d characters; keep label names under 50", n)}}
				}
				return nil
			},
			Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
				id, err := ac.Subject()
				if err != nil {
					return workflow.Result{}, err
				}
				var is Issue
				if err := ac.Tx.Take(&is, id).Error; err != nil {
					return workflow.Result{}, err
				}
				name := ac.Params.String("name")
				l := Label{ProjectID: is.ProjectID, Name: name}
				if err := ac.Tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "project_id"}, {Name: "name"}}, DoNothing: true}).Create(&l).Error; err != nil {
					return workflow.Result{}, err
				}
				if err := ac.Tx.Where("project_id = ? AND name = ?", is.ProjectID, name).Take(&l).Error; err != nil {
					return workflow.Result{}, err
				}
				res := ac.Tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&IssueLabel{IssueID: is.ID, LabelID: l.ID})
				if res.Error != nil {
					return workflow.Result{}, res.Error
				}
				if res.RowsAffected == 0 {
					return workflow.Result{Summary: "the issue already had the label"}, nil
				}
				if _, err := a.issues.RecordEvent(ctx, ac.Tx, is.ID, ActionLabelAdded, activity.Record(&l), activity.Extra{"name": l.Name}); err != nil {
					return workflow.Result{}, err
				}
				return workflow.Result{Summary: "added the label " + name}, nil
			},
		},
		actionClose: {
			Doc: "Close the issue.",
			Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
				id, err := ac.Subject()
				if err != nil {
					return workflow.Result{}, err
				}
				var is Issue
				if err := ac.Tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&is, id).Error; err != nil {
					return workflow.Result{}, err
				}
				if is.Status == StatusClosed {
					return workflow.Result{Summary: "the issue was closed already"}, nil
				}
				if err := ac.Tx.Model(&is).Updates(map[string]any{"status": StatusClosed, "updated_at": a.cfg.Now()}).Error; err != nil {
					return workflow.Result{}, err
				}
				if _, err := a.issues.RecordEvent(ctx, ac.Tx, is.ID, ActionIssueClosed, activity.Extra{"from": is.Status, "to": StatusClosed}); err != nil {
					return workflow.Result{}, err
				}
				return workflow.Result{Summary: "closed the issue"}, nil
			},
		},
	}
}

// pingRuleKey is the key of the rule the demo keeps in code.
const pingRuleKey = "demo-ping"

// ensureRules declares the demo's rules kept in code (workflow.Rules.Ensure
// saves each by its key: one rule however often the demo starts, in how
// many processes): a comment saying "ping" gets the reply "pong".
func (a *App) ensureRules(ctx context.Context) error {
	_, _, err := a.client.Rules().Ensure(ctx, "app:demo", workflow.Rule{
		Key: pingRuleKey, Name: "Ping? Pong! (kept in code)", Domain: a.issues.Name(), TriggeredOn: ActionCommentAdded,
		Conditions: workflow.Conditions{workflow.Cond("record.body", workflow.OpMatches, `(?i)^\s*ping\b`)},
		Actions:    []workflow.RuleAction{workflow.Do(actionReply, workflow.Params{"message": "pong"})},
		Enabled:    true,
	})
	return err
}
