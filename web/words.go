package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Words names things on the mounted pages in the reader's language: the
// app's locale catalog first, then the library's English defaults, then
// what the domain declares. The keys an app may set in its catalog:
//
//	tidings.domain.<domain>            "issue" -> "Ticket"
//	tidings.action.<domain>.<action>   "comment_added" -> "Comments"
//	tidings.channel.<channel>          "app" -> "In the app"
//
// and each page's own texts, the keys its package's Messages lists with
// their English defaults: rules.* (web/rules; BuiltinMessages too), eventbrowser.*
// (web/eventbrowser), operations.* (web/operations), preferences.*
// (web/preferences) and notifycenter.* (web/notifycenter, its JSON
// errors' messages), and relative times and stamps: tidings.ago.* and
// tidings.stamp (TimeMessages, Ago, Stamp). Give every page the same Words (the entry point
// does): each New adds its own defaults under the app's Defaults. The
// zero Words speaks the English defaults.
type Words struct {
	// Catalog holds the app's messages. Default nil: English defaults.
	Catalog *locale.Catalog
	// Defaults are the texts of the keys the catalog lacks. A page's
	// package gives its own.
	Defaults map[string]string
}

// Locale returns the reader's locale: the identity's, else the request's
// Accept-Language (first tag), matched to the catalog; "" without a
// catalog.
func (w Words) Locale(r *http.Request, id Identity) string {
	if w.Catalog == nil {
		return ""
	}
	l := id.Locale
	if l == "" && r != nil {
		l, _, _ = strings.Cut(r.Header.Get("Accept-Language"), ",")
		l, _, _ = strings.Cut(strings.TrimSpace(l), ";")
	}
	return w.Catalog.Match(l)
}

// has reports whether the catalog speaks key to a reader of loc (their
// locale or the fallback).
func (w Words) has(loc, key string) bool {
	if w.Catalog == nil {
		return false
	}
	return w.Catalog.Has(w.Catalog.Match(loc), key) || w.Catalog.Has(w.Catalog.Fallback(), key)
}

// Text renders key with args: the catalog's message, else the default,
// else the key itself.
func (w Words) Text(loc, key string, args ...any) string {
	if w.has(loc, key) {
		return w.Catalog.Sprintf(loc, key, args...)
	}
	if f, ok := w.Defaults[key]; ok {
		if len(args) == 0 {
			return f
		}
		return fmt.Sprintf(f, args...)
	}
	return key
}

// Domain names a domain: the catalog's tidings.domain.<name>, else the
// name with spaces ("support ticket").
func (w Words) Domain(loc, name string) string {
	if k := "tidings.domain." + name; w.has(loc, k) {
		return w.Catalog.Sprintf(loc, k)
	}
	return Humanize(name)
}

// Action names an action of d for people: the catalog's
// tidings.action.<domain>.<action>, else the action catalog's Doc
// (activity.ActionSpec), else the action with spaces ("comment added").
func (w Words) Action(loc string, d *activity.Domain, action string) string {
	if k := "tidings.action." + d.Name() + "." + action; w.has(loc, k) {
		return w.Catalog.Sprintf(loc, k)
	}
	if s, ok := d.Spec(action); ok && s.Doc != "" {
		return strings.TrimSuffix(capitalize(s.Doc), ".")
	}
	return capitalize(Humanize(d.Canonical(action)))
}

var channelNames = map[string]string{
	"app": "In the app", "email": "Email", "slack": "Slack", "webhook": "Webhook", "push": "Push", "sms": "SMS",
	"webpush": "Browser push", "mobilepush": "Mobile push",
}

// Channel names a delivery channel: the catalog's tidings.channel.<name>,
// else an English name ("In the app", "Email").
func (w Words) Channel(loc, name string) string {
	if k := "tidings.channel." + name; w.has(loc, k) {
		return w.Catalog.Sprintf(loc, k)
	}
	if n, ok := channelNames[name]; ok {
		return n
	}
	return capitalize(Humanize(name))
}

// Humanize turns an identifier into words: "comment_added" -> "comment
// added".
func Humanize(s string) string { return strings.ReplaceAll(s, "_", " ") }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
