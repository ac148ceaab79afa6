package main

import "github.com/tidingsdev/tidings/activity"

// The issue domain's actions.
const (
	ActionIssueOpened    = "issue_opened"
	ActionIssueViewed    = "issue_viewed"
	ActionCommentAdded   = "comment_added"
	ActionCommentDeleted = "comment_deleted"
	ActionCommentViewed  = "comment_viewed"
	ActionLabelAdded     = "label_added"
	ActionLabelRemoved   = "label_removed"
	ActionAssigned       = "assigned"
	ActionStatusChanged  = "status_changed"
	ActionIssueClosed    = "issue_closed"
	ActionNoActivity     = "no_activity"
)

// quietActions are recorded but neither count as activity on an issue nor
// show in its feed unless asked for.
var quietActions = map[string]bool{ActionIssueViewed: true, ActionCommentViewed: true}

// newIssueDomain declares the issue domain: events about issues, in
// issue_events, with users as actors and comments and labels as records,
// tenanted by the issue's organisation (organisations.id).
func newIssueDomain(cfg activity.DomainConfig) (*activity.Domain, error) {
	cfg = issueDomainConfig(cfg)
	cfg.Tenant = activity.KeyBigint
	return activity.NewDomain(cfg)
}

// issueDomainConfig is the issue domain's declaration before organisations
// (the events table of migrations 00002-00006, which 00020 makes tenanted).
func issueDomainConfig(cfg activity.DomainConfig) activity.DomainConfig {
	cfg.Name = "issue"
	cfg.Subject = activity.Subject{Table: "issues"}
	cfg.Actions = []string{
		ActionIssueOpened, ActionIssueViewed, ActionCommentAdded, ActionCommentDeleted, ActionCommentViewed,
		ActionLabelAdded, ActionLabelRemoved, ActionAssigned, ActionStatusChanged, ActionIssueClosed,
		ActionNoActivity, ActionImportRetracted,
	}
	cfg.Specs = issueSpecs()
	cfg.Resolvers = map[string]activity.Resolver{
		"users":    activity.ModelResolver[User](),
		"comments": activity.ModelResolver[Comment](),
		"labels":   activity.ModelResolver[Label](),
	}
	return cfg
}

// feedActions are the actions an issue feed shows by default.
func feedActions(d *activity.Domain) []string {
	var out []string
	for _, a := range d.Actions() {
		if !quietActions[a] {
			out = append(out, a)
		}
	}
	return out
}
