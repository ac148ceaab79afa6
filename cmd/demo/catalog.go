package main

import (
	"fmt"

	"github.com/tidingsdev/tidings/activity"
)

// writeCatalog writes the issue domain's event catalog into dir
// (go run ./cmd/demo -write-catalog cmd/demo/catalog).
func writeCatalog(dir string) error {
	d, err := newIssueDomain(activity.DomainConfig{})
	if err != nil {
		return err
	}
	if err := activity.WriteCatalog(dir, d); err != nil {
		return err
	}
	fmt.Printf("wrote %s/%s and %s/%s\n", dir, activity.CatalogMarkdownFile, dir, activity.CatalogJSONFile)
	return nil
}

// ActionImportRetracted is recorded on each issue whose imported comments
// were retracted (history.go).
const ActionImportRetracted = "import_retracted"

// The extras the issue domain's actions carry: declared for the event
// catalog (catalog/), and checked when recording.
type (
	issueOpenedExtra struct {
		Title string `json:"title"`
	}
	commentExtra struct {
		Length int    `json:"length"`
		Import string `json:"import,omitempty"` // the CSV import's name
	}
	labelExtra struct {
		Name string `json:"name"`
	}
	changeExtra struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	noActivityExtra struct {
		Since string `json:"since"`
		After string `json:"after"`
	}
)

// issueSpecs describe the issue domain's actions for the catalog.
func issueSpecs() map[string]activity.ActionSpec {
	return map[string]activity.ActionSpec{
		ActionIssueOpened:     {Extra: issueOpenedExtra{}, Doc: "Someone opened an issue.", RecordedBy: []string{"web: POST /issues", "seed"}},
		ActionIssueViewed:     {Doc: "Someone viewed an issue (throttled to one per person per 15 minutes).", RecordedBy: []string{"web: GET /issues/{id}"}},
		ActionCommentAdded:    {Extra: commentExtra{}, Doc: "Someone commented.", RecordedBy: []string{"web: POST /issues/{id}/comments", "workflow action reply", "CSV import (POST /history/imports)", "seed"}},
		ActionCommentDeleted:  {Doc: "Someone deleted a comment.", RecordedBy: []string{"web: POST /issues/{id}/comments/{cid}/delete"}},
		ActionCommentViewed:   {Doc: "Someone viewed a comment (throttled)."},
		ActionLabelAdded:      {Extra: labelExtra{}, Doc: "A label was added.", RecordedBy: []string{"web: POST /issues/{id}/labels", "workflow action add_label", "seed"}},
		ActionLabelRemoved:    {Extra: labelExtra{}, Doc: "A label was removed.", RecordedBy: []string{"web: POST /issues/{id}/labels/{lid}/delete"}},
		ActionAssigned:        {Extra: changeExtra{}, Doc: "The assignee changed.", RecordedBy: []string{"web: POST /issues/{id}/assignee", "seed"}},
		ActionStatusChanged:   {Extra: changeExtra{}, Doc: "The status changed.", RecordedBy: []string{"web: POST /issues/{id}/status", "seed"}},
		ActionIssueClosed:     {Extra: changeExtra{}, Doc: "The issue was closed.", RecordedBy: []string{"web: POST /issues/{id}/status", "workflow action close"}},
		ActionNoActivity:      {Extra: noActivityExtra{}, Doc: "Nobody touched an open issue for a while.", RecordedBy: []string{"the stale job (-stale-after, -stale-every)"}},
		ActionImportRetracted: {Extra: activity.RetractionExtra{}, Doc: "Comments a CSV import added to the issue were retracted.", RecordedBy: []string{"web: POST /history/imports/{id}/retract"}},
	}
}
