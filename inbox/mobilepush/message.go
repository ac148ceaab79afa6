package mobilepush

import (
	"fmt"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Message is one notification, which a Provider turns into its service's
// payload (FCM's notification and data, APNs's aps alert and custom keys).
type Message struct {
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	// Tag groups notifications on the device: one per subject
	// ("issue/12"), a later one replacing the earlier (FCM's collapse key
	// and tag, APNs's apns-collapse-id and thread-id).
	Tag string `json:"tag,omitempty"`
	// URL is the page (or deep link) a tap opens (Config.URL), "" for none.
	URL string `json:"url,omitempty"`
	// Events are the events told of, oldest first.
	Events []Ref `json:"events"`
}

// Ref names an event in a Message.
type Ref struct {
	Domain string `json:"domain"`
	ID     int64  `json:"id"`
}

// EventsData is m.Events as the compact text a data field carries
// ("issue:81,issue:82"): FCM's data values are strings.
func (m Message) EventsData() string {
	parts := make([]string, len(m.Events))
	for i, r := range m.Events {
		parts[i] = fmt.Sprintf("%s:%d", r.Domain, r.ID)
	}
	return strings.Join(parts, ",")
}

func refs(events []activity.Event) []Ref {
	out := make([]Ref, len(events))
	for i, ev := range events {
		out[i] = Ref{Domain: ev.Domain, ID: ev.ID}
	}
	return out
}

// Render words one event in loc through cat: the catalog's
// "<domain>.<action>.title", or a plain sentence when it has none.
func Render(cat *locale.Catalog, loc string, ev activity.Event) Message {
	return Message{Title: cat.Title(loc, ev, 0), Tag: ev.Domain + "/" + ev.SubjectID, Events: refs([]activity.Event{ev})}
}

// RenderBatch words a window of events: the heading "digest.subject"
// ("N updates" without it) and a "<domain>.<action>.line" per event in
// Body, at most 20 lines (then "…").
func RenderBatch(cat *locale.Catalog, loc string, events []activity.Event) Message {
	m := Message{Events: refs(events)}
	if cat.Has(cat.Fallback(), locale.DigestSubject) {
		m.Title = cat.Sprintf(loc, locale.DigestSubject, len(events))
	} else {
		m.Title = fmt.Sprintf("%d updates", len(events))
	}
	lines := make([]string, 0, min(len(events), 21))
	for i, ev := range events {
		if i == 20 {
			lines = append(lines, "…")
			break
		}
		lines = append(lines, cat.Line(loc, ev))
	}
	m.Body = strings.Join(lines, "\n")
	if len(m.Events) > 50 { // the payload limits are 4 KiB: the list is a hint, the app reads the feed
		m.Events = m.Events[len(m.Events)-50:]
	}
	return m
}
