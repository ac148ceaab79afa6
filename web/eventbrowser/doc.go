// Package eventbrowser is a mountable event browser: an http.Handler that
// lists the events of the app's domains with filters (action, actor,
// subject, correlation id, time) and shows each event's permalink: who,
// what, when, from where (source, request, IP, user agent), why (the
// event that caused it) and what it caused, with the workflow runs it
// met. It answers support's "what happened here, and why?".
//
//	browser, err := eventbrowser.New(eventbrowser.Config{
//		DB:      db,
//		Domains: []*activity.Domain{Issues},
//		Prefix:  "/admin/events",
//		Theme:   web.Theme{Layout: appLayout}, // the app's layout and stylesheet
//		Rules:   rules, // optional: workflow runs on permalinks
//	})
//	mux.Handle("/admin/events/", web.Middleware(identify, nil)(browser))
//
// Who asks is a web.Identity (from web.Middleware, or Config.Identity):
// nobody signed in is refused (401), a person who is not an Admin too
// (403); a tenant's admin reads their tenant's events only, and in a
// tenanted domain a person without a tenant is refused. Scope limits a
// request further to some subjects: lists show only their events, and a
// permalink to another's event answers 404, as if it did not exist.
// Actions are named by the app's locale catalog or the action catalog's
// Doc (Config.Words). Pages are rendered on the server with html/template
// (every value escaped) inside the app's layout, and need no JavaScript;
// with the default layout they send a Content-Security-Policy that allows
// none. Permalinks are
// Prefix/{domain}/{id}; Browser.Permalink builds them for the app's own
// pages.
//
// The list shows one domain at a time (a select when there are several),
// paged by the feed's keyset cursor. Bad filters answer 400 with what was
// wrong and what is allowed; unknown events 404.
//
// # In the reader's words
//
// Every text of the browser (headings, filter labels, buttons, the
// permalink's rows, empty lists, refusals, a bad filter's message, a
// workflow run's status) is a key of Messages ("eventbrowser.title",
// "eventbrowser.filter.actor", "eventbrowser.prop.who",
// "eventbrowser.status.done", ...) with its English default; domains and
// actions are named by tidings.domain.<domain> and
// tidings.action.<domain>.<action> (else the action catalog's Doc). The
// browser speaks the reader's locale (web.Identity.Locale, else
// Accept-Language) through Config.Words: the app's locale catalog
// translates or rewords any key, English fills the rest:
//
//	cat, _ := locale.New("en", "de")
//	cat.Set("de", "eventbrowser.title", "Ereignisse")
//	cat.Set("de", "eventbrowser.on", "zu %s")
//	browser, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{Issues},
//		Words: web.Words{Catalog: cat}})
//
// Relative times and stamps are said by the keys of web.TimeMessages.
// What the activity package refuses in a query is said by its error's
// type, not its text: an unknown action ("eventbrowser.error.action",
// "eventbrowser.error.action_suggest"), a page link whose cursor the feed
// did not make ("eventbrowser.error.cursor"), an Until not after Since
// ("eventbrowser.error.until"), in English word for word as activity
// says them. The sentences of events are the Feed renderer's; an event's
// data (actor, source, request, extra) is shown as it is, and so is what
// else activity refuses (an actor or subject it cannot read).
package eventbrowser
