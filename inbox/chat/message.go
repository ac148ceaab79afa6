package chat

import (
	"fmt"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Message is what a chat channel shows: one event (Title alone) or a
// window of events (Title is the heading, Lines one line per event). The
// text is plain: each Provider escapes it for its own markup.
type Message struct {
	Title string
	Lines []string
	// Events are the events the message tells of, oldest first.
	Events []activity.Event
}

// Render words one event in loc through cat: the catalog's
// "<domain>.<action>.title" (actor, 0 others, the subject), or a plain
// sentence when the catalog has no message for it.
func Render(cat *locale.Catalog, loc string, ev activity.Event) Message {
	return Message{Title: cat.Title(loc, ev, 0), Events: []activity.Event{ev}}
}

// RenderBatch words a window of events: the heading "digest.subject"
// (the number of events; "N updates" without it), then a
// "<domain>.<action>.line" per event.
func RenderBatch(cat *locale.Catalog, loc string, events []activity.Event) Message {
	m := Message{Events: events}
	if cat.Has(cat.Fallback(), locale.DigestSubject) {
		m.Title = cat.Sprintf(loc, locale.DigestSubject, len(events))
	} else {
		m.Title = fmt.Sprintf("%d updates", len(events))
	}
	for _, ev := range events {
		m.Lines = append(m.Lines, cat.Line(loc, ev))
	}
	return m
}
