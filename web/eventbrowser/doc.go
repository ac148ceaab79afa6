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
//		Authorize: func(r *http.Request) bool { return currentUser(r).IsAdmin },
//		Rules:   rules, // optional: workflow runs on permalinks
//	})
//	mux.Handle("/admin/events/", browser)
//
// Without Authorize every request is refused (403). Scope limits a request
// to some subjects (a tenant's): lists show only their events, and a
// permalink to another tenant's event answers 404, as if it did not exist. Pages are rendered on
// the server with html/template (every value escaped), need no JavaScript,
// and send a Content-Security-Policy that allows none. Permalinks are
// Prefix/{domain}/{id}; Browser.Permalink builds them for the app's own
// pages.
//
// The list shows one domain at a time (a select when there are several),
// paged by the feed's keyset cursor. Bad filters answer 400 with what was
// wrong and what is allowed; unknown events 404.
package eventbrowser
