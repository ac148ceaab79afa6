package sms

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Message is one text to one phone number, what a Provider sends.
type Message struct {
	// To is the number in E.164 form ("+14155550100"), as device.Register
	// stored it.
	To string
	// Body is the text, already cut to the inbox's MaxRunes.
	Body string
	// Tenant is the event's tenant ("" when untenanted): a provider that
	// asks for delivery reports names it in the report's URL, so the
	// report's handler removes a dead number in that tenant.
	Tenant string
}

// Receipt is what a provider says of an accepted message.
type Receipt struct {
	// ID is the provider's message ID (Twilio's "SM..." SID), which its
	// delivery reports name.
	ID string
	// Status is the provider's first status ("queued", "accepted").
	Status string
}

// Text words one event in loc through cat: the catalog's
// "<domain>.<action>.title" (a plain sentence without one), then, when
// link is not empty, a space and link; cut to maxRunes.
func Text(cat *locale.Catalog, loc string, ev activity.Event, link string, maxRunes int) string {
	return withLink(cat.Title(loc, ev, 0), link, maxRunes)
}

// BatchText words a window of events: "digest.subject" ("N updates"
// without it), then each event's "<domain>.<action>.line" after "; ",
// cut to maxRunes (the first lines are kept).
func BatchText(cat *locale.Catalog, loc string, events []activity.Event, maxRunes int) string {
	head := fmt.Sprintf("%d updates", len(events))
	if cat.Has(cat.Fallback(), locale.DigestSubject) {
		head = cat.Sprintf(loc, locale.DigestSubject, len(events))
	}
	lines := make([]string, len(events))
	for i, ev := range events {
		lines[i] = cat.Line(loc, ev)
	}
	return Cut(head+": "+strings.Join(lines, "; "), maxRunes)
}

// withLink appends link to text, cutting the text (never the link) so
// both fit maxRunes; a link longer than that is left out.
func withLink(text, link string, maxRunes int) string {
	if link == "" {
		return Cut(text, maxRunes)
	}
	room := maxRunes - utf8.RuneCountInString(link) - 1
	if room < 10 {
		return Cut(text, maxRunes)
	}
	return Cut(text, room) + " " + link
}

// Cut shortens s to at most n runes, ending in "..." when it cut (three
// dots, not "…": the ellipsis is not in the GSM 7-bit alphabet, and one
// character outside it makes the whole message UCS-2, 70 characters a
// segment instead of 160).
func Cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ") // no newlines or runs of spaces: each costs a character
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 3 {
		return ""
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:n-3]), " ") + "..."
}
