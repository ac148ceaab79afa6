// Package web is the layer of mountable web parts between the library
// (activity, inbox, workflow) and an app's own routes. Each sub-package is
// an http.Handler an app mounts under a path of its choice:
//
//   - web/eventbrowser: events of the declared domains, filters,
//     permalinks with cause, effects and workflow runs (HTML, no JavaScript
//     needed);
//   - web/notifycenter: the in-app notifications' JSON API and live stream
//     (server-sent events, pushed across processes through Redis pub/sub);
//   - web/preferences: a person's notification preferences (a page and a
//     JSON API) under the app's defaults and critical kinds;
//   - web/rules: the rule editor for end users (list, create, edit with
//     each error at its field, dry run, run log);
//   - web/operations: the operations page for operators (queues, dead
//     letters with re-drive, breakers, relay lag), readable from any
//     process;
//   - web/feedview: rendering helpers the pages share and apps reuse
//     (folding runs of similar events, relative times, per-action
//     sentences).
//
// # Who asks: one Identity
//
// Every part asks the same question, "who is this request", through one
// shape: an Identity (the signed-in person, their tenant, whether they
// may administer). The app answers it once per request with an
// IdentityFunc wrapped in Middleware, which puts the Identity on the
// request's context; each part reads it there (Identify) and refuses a
// request without one. The recording middleware of the entry point reads
// the same value, so the app's user lookup runs once.
//
//	mux.Handle("/tidings/", web.Middleware(identify, nil)(handler))
//
// # How it looks: one Theme
//
// Each HTML page is rendered into the app's own layout (a Layout hook, or
// TemplateLayout for the app's layout template) with the default
// stylesheet (Stylesheet, served by each part under its prefix as
// StylesheetFile) scoped to <div class="tidings">, and the app's own
// stylesheet linked after it. The default stylesheet reads the app's
// colours and font from CSS custom properties (--tidings-accent, ...).
//
// # What it says: one Words
//
// Every text a part shows (headings, column names, buttons, empty lists,
// notices, refusals, errors) is a key with an English default, listed by
// the part's Messages (rules.Messages, eventbrowser.Messages,
// operations.Messages, preferences.Messages, notifycenter.Messages), and
// the rule editor's names of the built-in attributes and actions by
// rules.BuiltinMessages;
// domains, actions and channels are named by tidings.domain.<domain>,
// tidings.action.<domain>.<action> (else the action catalog's Doc) and
// tidings.channel.<name>; relative times and stamps by the keys of
// TimeMessages (tidings.ago.minutes "%d min ago", ..., and the layouts
// tidings.ago.date and tidings.stamp). Each part takes a Words: the app's locale
// catalog (package inbox/locale), read in the reader's locale
// (Identity.Locale, else Accept-Language), over the English defaults. An
// app translates or rewords any key, and English fills the rest:
//
//	cat, _ := locale.New("en", "de")
//	cat.Set("de", "tidings.channel.app", "In der App")
//	cat.Set("de", "preferences.title", "Benachrichtigungen")
//	cat.Set("de", "eventbrowser.title", "Ereignisse")
//	words := web.Words{Catalog: cat} // Config.Words of each part, or of the entry point
//
// cat.Missing(keys...) lists what a locale still lacks: pass it the keys
// of the parts' Messages (and of rules.BuiltinMessages).
//
// Nothing here knows the app's routing, sessions or users: the app says
// who asks (the Identity) and how to name things (the describers).
package web
