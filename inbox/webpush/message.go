package webpush

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Message is the JSON a push carries, which the service worker shows as
// a notification (web/notifycenter's script does):
//
//	{"title": "Ana commented on #12", "tag": "issue/12", "url": "/issues/12",
//	 "events": [{"domain": "issue", "id": 81}]}
//
// A batch has a heading as Title ("3 updates") and a line per event in
// Body.
type Message struct {
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	// Tag groups notifications in the browser: one per subject
	// ("issue/12"), a later one replacing the earlier.
	Tag string `json:"tag,omitempty"`
	// URL is the page a click opens (Config.URL), "" for none.
	URL string `json:"url,omitempty"`
	// Events are the events told of, oldest first.
	Events []Ref `json:"events"`
}

// Ref names an event in a Message.
type Ref struct {
	Domain string `json:"domain"`
	ID     int64  `json:"id"`
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
// (the number of events; "N updates" without it) and a
// "<domain>.<action>.line" per event in Body.
func RenderBatch(cat *locale.Catalog, loc string, events []activity.Event) Message {
	m := Message{Events: refs(events)}
	if cat.Has(cat.Fallback(), locale.DigestSubject) {
		m.Title = cat.Sprintf(loc, locale.DigestSubject, len(events))
	} else {
		m.Title = fmt.Sprintf("%d updates", len(events))
	}
	lines := make([]string, len(events))
	for i, ev := range events {
		lines[i] = cat.Line(loc, ev)
	}
	m.Body = strings.Join(lines, "\n")
	return m
}

// Payload is m as the JSON a push carries, cut to fit MaxPayload: the
// body's last lines, then the events' list, then the title give way
// (a long batch says its first lines and "…").
func (m Message) Payload() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil || len(b) <= MaxPayload {
		return b, err
	}
	for len(m.Events) > 1 && len(b) > MaxPayload {
		m.Events = m.Events[:len(m.Events)/2]
		if b, err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	for _, f := range []*string{&m.Body, &m.Title} {
		for len(b) > MaxPayload && *f != "" {
			*f = cut(*f, len(*f)-(len(b)-MaxPayload)-8)
			if b, err = json.Marshal(m); err != nil {
				return nil, err
			}
		}
	}
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes of JSON after cutting the text", ErrTooLarge, len(b))
	}
	return b, nil
}

// cut shortens s to at most n bytes on a rune boundary, ending in "…".
func cut(s string, n int) string {
	n -= len("…")
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
