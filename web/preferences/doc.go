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
//		Topics:   []preferences.Topic{{Domain: "issue", Action: "comment_added"}},
//		Channels: []preferences.Channel{{Name: inbox.ChannelApp}, {Name: inbox.ChannelEmail}}, // the app's inboxes' channels
//		Domains:  []*activity.Domain{issues}, // row labels from the action catalog
//		Theme:    web.Theme{Layout: appLayout},
//	})
//	mux.Handle("/settings/notifications/", web.Middleware(identify, nil)(page))
//
// Give the inboxes the same Defaults (notify.Config.Defaults,
// email.InboxConfig.Defaults): the page shows what they do, and list
// only the channels the app's inboxes deliver on (the default is in the
// app only). Who asks is a web.Identity: its Person's ID is the recipient
// and its Tenant the tenant whose preferences are read and changed;
// nobody signed in is refused (401). Rows and columns are named by
// Config.Words (the app's locale catalog, then the action catalog's Doc).
// The page renders inside the app's layout (Config.Theme). Choosing a
// cell's default
// removes the person's own row, so a later change of the app's default
// reaches them; choosing otherwise writes an override. Turning a critical
// kind off is refused (409 from the API, a locked checkbox on the page).
//
// # In the reader's words
//
// Every text of the page (heading, column head, buttons, notes, notices,
// the plain-text refusals) is a key of Messages ("preferences.title",
// "preferences.col.topic", "preferences.save", ...) with its English
// default; rows are named by tidings.action.<domain>.<action> (else the
// action catalog's Doc), columns by tidings.channel.<name>, delivery
// rows by the channel and tidings.domain.<domain>. The page speaks the
// reader's locale (web.Identity.Locale) through Config.Words: the app's
// locale catalog translates or rewords any key, English fills the rest:
//
//	cat, _ := locale.New("en", "de")
//	cat.Set("de", "preferences.title", "Benachrichtigungen")
//	cat.Set("de", "preferences.unsubscribed", "Abgemeldet von %s.")
//	page, err := preferences.New(preferences.Config{DB: db, Topics: topics, Words: web.Words{Catalog: cat}})
//
// The labels an app gives itself (Topic.Label, Channel.Label,
// DeliveryOption.Label) are shown as they are.
//
// A one-click unsubscribe link (package inbox/email, with
// UnsubscribeConfig.PreferencesURL) lands on this page after a person
// confirmed in the browser, saying what they left.
package preferences
