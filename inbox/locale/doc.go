// Package locale holds the message catalogs that render notifications in
// the reader's language: email subjects and bodies, Slack text, in-app
// titles, with plural forms, dates and times in the reader's zone, and a
// fallback locale for readers whose language is not declared.
//
// It builds on golang.org/x/text/message and its catalog and plural
// packages: the Go team's own, kept with the toolchain's x/ repositories,
// CLDR plural rules for every language (so "one"/"other" in English and
// German, "one"/"few"/"many"/"other" in Polish, without hand-written rules),
// and Printf-style formats translators already know. The alternatives
// (go-i18n, spreak) bring file formats and loaders the library does not
// need; x/text keeps the dependency to one module the tree already had.
//
// Keys are "<domain>.<action>.<part>" for one event ("issue.comment_added.title")
// and free-form for the rest ("digest.subject"). Catalog.Missing lists
// every (locale, key) without a message, so a test fails when a
// translation is missing:
//
//	if missing := cat.Missing(locale.Keys("issue", issue.Actions(), "title", "line")...); len(missing) > 0 {
//		t.Fatal(missing)
//	}
package locale
