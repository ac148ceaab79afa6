package locale

import (
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// The parts and keys the channels render. Each event's messages take the
// same arguments in every locale:
//
//	<domain>.<action>.title  %[1]s actor, %[2]d others who did the same, %[3]s the subject ("#12")
//	<domain>.<action>.line   %[1]s actor, %[2]s the subject
//	digest.subject           %[1]d events
//	digest.heading           %[1]s the subject, %[2]d events on it
//
// Give .title plural cases on argument 2 ("=0", "one", "other") and
// digest.subject on argument 1.
const (
	PartTitle     = "title"
	PartLine      = "line"
	DigestSubject = "digest.subject"
	DigestHeading = "digest.heading"
)

// Object is how messages name an event's subject: "#12".
func Object(ev activity.Event) string { return "#" + ev.SubjectID }

func actor(ev activity.Event) string {
	if ev.ActorLabel != "" {
		return ev.ActorLabel
	}
	return ev.ActorID
}

// Title is the in-app (and Slack) title of an event that others more
// people also did within a window: "Ana and 4 others commented on #12".
func (c *Catalog) Title(locale string, ev activity.Event, others int) string {
	key := Key(ev.Domain, ev.Action, PartTitle)
	if c.known(key) {
		return c.Sprintf(locale, key, actor(ev), others, Object(ev))
	}
	return generic(ev) // no message in any locale: say what happened plainly
}

// Line is one event as a line of a digest or a batched Slack message:
// "Ana commented on #12".
func (c *Catalog) Line(locale string, ev activity.Event) string {
	key := Key(ev.Domain, ev.Action, PartLine)
	if c.known(key) {
		return c.Sprintf(locale, key, actor(ev), Object(ev))
	}
	return generic(ev)
}

func (c *Catalog) known(key string) bool { return c.keys[c.fallback][key] }

func generic(ev activity.Event) string {
	return actor(ev) + ": " + strings.ReplaceAll(ev.Action, "_", " ") + " " + Object(ev)
}
