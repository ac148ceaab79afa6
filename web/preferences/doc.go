// Package preferences is a mountable notification preference page and
// its JSON API: a row per topic (an action of a domain), a column per
// channel (in the app, email, ...), a checkbox per cell showing what the
// person gets, under the app's defaults (inbox.Defaults: kinds off until
// turned on, critical kinds nobody can turn off), and the subjects they
// muted.
//
//	defaults := &inbox.Defaults{Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "security_alert"}}}
//	page, err := preferences.New(preferences.Config{
//		DB: db, Defaults: defaults, Prefix: "/settings/notifications",
//		Topics: []preferences.Topic{{Domain: "issue", Action: "comment_added", Label: "Comments"}},
//		Recipient: func(r *http.Request) (string, bool) { ... the signed-in user's key ... },
//	})
//	mux.Handle("/settings/notifications/", page)
//
// Give the inboxes the same Defaults (notify.Config.Defaults,
// email.InboxConfig.Defaults): the page shows what they do. Without
// Recipient every request is refused (403). Choosing a cell's default
// removes the person's own row, so a later change of the app's default
// reaches them; choosing otherwise writes an override. Turning a critical
// kind off is refused (409 from the API, a locked checkbox on the page).
//
// A one-click unsubscribe link (package inbox/email, with
// UnsubscribeConfig.PreferencesURL) lands on this page after a person
// confirmed in the browser, saying what they left.
package preferences
