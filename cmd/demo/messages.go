package main

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// dailyDigest is the batched choice the demo offers: every day at 08:00 on
// the reader's clock.
var dailyDigest = inbox.BatchedOn(inbox.DailyAt(8, 0))

// demoLocales are the languages notifications are worded in; English is
// the fallback.
var demoLocales = []string{"en", "de"}

// messageActions are the actions people are told about, each worded in
// every locale (TestEveryActionInEveryLocale).
var messageActions = []string{ActionIssueOpened, ActionCommentAdded, ActionCommentDeleted, ActionLabelAdded, ActionLabelRemoved,
	ActionAssigned, ActionStatusChanged, ActionIssueClosed, ActionNoActivity, ActionImportRetracted}

// messages holds the demo's wording: per action an in-app title (plural on
// how many others did the same within a window) and a line (digests,
// batched Slack), per locale.
var messages = map[string]map[string][]string{
	"en": {
		ActionIssueOpened:     {"%[1]s opened %[3]s", "%[1]s and %[2]d others opened %[3]s", "%[1]s opened %[2]s"},
		ActionCommentAdded:    {"%[1]s commented on %[3]s", "%[1]s and %[2]d others commented on %[3]s", "%[1]s commented on %[2]s"},
		ActionCommentDeleted:  {"%[1]s deleted a comment on %[3]s", "%[1]s and %[2]d others deleted comments on %[3]s", "%[1]s deleted a comment on %[2]s"},
		ActionLabelAdded:      {"%[1]s labelled %[3]s", "%[1]s and %[2]d others labelled %[3]s", "%[1]s labelled %[2]s"},
		ActionLabelRemoved:    {"%[1]s removed a label from %[3]s", "%[1]s and %[2]d others removed labels from %[3]s", "%[1]s removed a label from %[2]s"},
		ActionAssigned:        {"%[1]s assigned %[3]s", "%[1]s and %[2]d others assigned %[3]s", "%[1]s assigned %[2]s"},
		ActionStatusChanged:   {"%[1]s changed the status of %[3]s", "%[1]s and %[2]d others changed the status of %[3]s", "%[1]s changed the status of %[2]s"},
		ActionIssueClosed:     {"%[1]s closed %[3]s", "%[1]s and %[2]d others closed %[3]s", "%[1]s closed %[2]s"},
		ActionNoActivity:      {"%[3]s has been quiet for a while", "%[3]s has been quiet for a while", "%[2]s has been quiet for a while"},
		ActionImportRetracted: {"%[1]s retracted an import on %[3]s", "%[1]s and %[2]d others retracted imports on %[3]s", "%[1]s retracted an import on %[2]s"},
	},
	"de": {
		ActionIssueOpened:     {"%[1]s hat %[3]s eröffnet", "%[1]s und %[2]d weitere haben %[3]s eröffnet", "%[1]s hat %[2]s eröffnet"},
		ActionCommentAdded:    {"%[1]s hat %[3]s kommentiert", "%[1]s und %[2]d weitere haben %[3]s kommentiert", "%[1]s hat %[2]s kommentiert"},
		ActionCommentDeleted:  {"%[1]s hat einen Kommentar zu %[3]s gelöscht", "%[1]s und %[2]d weitere haben Kommentare zu %[3]s gelöscht", "%[1]s hat einen Kommentar zu %[2]s gelöscht"},
		ActionLabelAdded:      {"%[1]s hat %[3]s ein Label gegeben", "%[1]s und %[2]d weitere haben %[3]s Labels gegeben", "%[1]s hat %[2]s ein Label gegeben"},
		ActionLabelRemoved:    {"%[1]s hat ein Label von %[3]s entfernt", "%[1]s und %[2]d weitere haben Labels von %[3]s entfernt", "%[1]s hat ein Label von %[2]s entfernt"},
		ActionAssigned:        {"%[1]s hat %[3]s zugewiesen", "%[1]s und %[2]d weitere haben %[3]s zugewiesen", "%[1]s hat %[2]s zugewiesen"},
		ActionStatusChanged:   {"%[1]s hat den Status von %[3]s geändert", "%[1]s und %[2]d weitere haben den Status von %[3]s geändert", "%[1]s hat den Status von %[2]s geändert"},
		ActionIssueClosed:     {"%[1]s hat %[3]s geschlossen", "%[1]s und %[2]d weitere haben %[3]s geschlossen", "%[1]s hat %[2]s geschlossen"},
		ActionNoActivity:      {"Zu %[3]s ist es seit einer Weile still", "Zu %[3]s ist es seit einer Weile still", "Zu %[2]s ist es seit einer Weile still"},
		ActionImportRetracted: {"%[1]s hat einen Import zu %[3]s zurückgezogen", "%[1]s und %[2]d weitere haben Importe zu %[3]s zurückgezogen", "%[1]s hat einen Import zu %[2]s zurückgezogen"},
	},
}

// digestSubjects words a digest's subject, plural on the count.
var digestSubjects = map[string][]string{
	"en": {"one", "1 update on your issues", "other", "%[1]d updates on your issues"},
	"de": {"one", "1 Neuigkeit zu deinen Issues", "other", "%[1]d Neuigkeiten zu deinen Issues"},
}

// topicLabels name the issue domain's actions on the library's pages (the
// preference page's rows, the rule editor's triggers): the catalog's
// tidings.action.issue.<action> keys (web.Words).
var topicLabels = map[string]map[string]string{
	"en": {
		ActionIssueOpened: "New issues", ActionCommentAdded: "Comments", ActionCommentDeleted: "Deleted comments",
		ActionLabelAdded: "Labels added", ActionLabelRemoved: "Labels removed", ActionAssigned: "Assignments",
		ActionStatusChanged: "Status changes", ActionIssueClosed: "Closed issues", ActionNoActivity: "Issues gone quiet",
		ActionImportRetracted: "Retracted imports",
	},
	"de": {
		ActionIssueOpened: "Neue Issues", ActionCommentAdded: "Kommentare", ActionCommentDeleted: "Gelöschte Kommentare",
		ActionLabelAdded: "Neue Labels", ActionLabelRemoved: "Entfernte Labels", ActionAssigned: "Zuweisungen",
		ActionStatusChanged: "Statusänderungen", ActionIssueClosed: "Geschlossene Issues", ActionNoActivity: "Stille Issues",
		ActionImportRetracted: "Zurückgezogene Importe",
	},
}

// newCatalog builds the demo's message catalog.
func newCatalog() (*locale.Catalog, error) {
	cat, err := locale.New("en", demoLocales...)
	if err != nil {
		return nil, err
	}
	for loc, byAction := range messages {
		for action, m := range byAction {
			if err := cat.SetPlural(loc, locale.Key("issue", action, locale.PartTitle), 2, "=0", m[0], "other", m[1]); err != nil {
				return nil, err
			}
			if err := cat.Set(loc, locale.Key("issue", action, locale.PartLine), m[2]); err != nil {
				return nil, err
			}
		}
		if err := cat.SetPlural(loc, locale.DigestSubject, 1, digestSubjects[loc]...); err != nil {
			return nil, err
		}
		for action, label := range topicLabels[loc] {
			if err := cat.Set(loc, "tidings.action.issue."+action, label); err != nil {
				return nil, err
			}
		}
	}
	return cat, nil
}

// germanDigest is the digest mail for German readers.
var germanDigest = email.DigestTemplate{
	Subject: `{{.Summary}}`,
	Text: `Hallo {{.Recipient.Name}},

{{.Summary}}:
{{range .Subjects}}
{{.Domain}} #{{.SubjectID}}{{with .URL}} ({{.}}){{end}}
{{- range .Items}}
  - {{.Line}} ({{.When}}){{end}}
{{end}}{{with .UnsubscribeURL}}
Diese Mails abbestellen: {{.}}
{{end}}`,
}

// profiles are people's locales and zones, for the inboxes.
func (a *App) profiles(ctx context.Context, db *gorm.DB, ids []string) (map[string]inbox.Profile, error) {
	var users []User
	if err := db.WithContext(ctx).Where("id IN ?", parseIDs(ids)).Find(&users).Error; err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	out := make(map[string]inbox.Profile, len(users))
	for _, u := range users {
		out[fmt.Sprint(u.ID)] = inbox.Profile{Locale: u.Locale, Location: zone(u.TimeZone)}
	}
	return out, nil
}

// zone is the location named tz, or UTC.
func zone(tz string) *time.Location {
	if loc, err := time.LoadLocation(tz); err == nil && tz != "" {
		return loc
	}
	return time.UTC
}
