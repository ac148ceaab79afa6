package web

import (
	"fmt"
	"maps"
	"time"
)

// TimeMessages returns the English texts of relative times and time
// stamps on the mounted pages, by key: what an app's locale catalog
// translates. tidings.ago.date and tidings.stamp are time.Format layouts
// (of a date past 30 days, and of a full stamp in UTC).
func TimeMessages() map[string]string { return maps.Clone(timeMessages) }

var timeMessages = map[string]string{
	"tidings.ago.just_now":  "just now",
	"tidings.ago.minutes":   "%d min ago", // how many
	"tidings.ago.hours":     "%d h ago",   // how many
	"tidings.ago.yesterday": "yesterday",
	"tidings.ago.days":      "%d days ago", // how many
	"tidings.ago.date":      "2 Jan 2006",
	"tidings.stamp":         "2 Jan 2006 15:04:05 UTC",
}

// timeText renders a time key: the catalog's, else Defaults', else the
// English of TimeMessages.
func (w Words) timeText(loc, key string, args ...any) string {
	if w.has(loc, key) {
		return w.Catalog.Sprintf(loc, key, args...)
	}
	f, ok := w.Defaults[key]
	if !ok {
		f = timeMessages[key]
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// Ago says how long before now t was, in the reader's words ("3 min
// ago"; web/feedview's Ago in English).
func (w Words) Ago(loc string, now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 45*time.Second:
		return w.timeText(loc, "tidings.ago.just_now")
	case d < time.Hour:
		return w.timeText(loc, "tidings.ago.minutes", max(1, int(d.Round(time.Minute)/time.Minute)))
	case d < 24*time.Hour:
		return w.timeText(loc, "tidings.ago.hours", int(d/time.Hour))
	case d < 48*time.Hour:
		return w.timeText(loc, "tidings.ago.yesterday")
	case d < 30*24*time.Hour:
		return w.timeText(loc, "tidings.ago.days", int(d/(24*time.Hour)))
	}
	return t.Format(w.timeText(loc, "tidings.ago.date"))
}

// Stamp writes t in UTC in the reader's layout (tidings.stamp: "2 Jan
// 2006 15:04:05 UTC" in English).
func (w Words) Stamp(loc string, t time.Time) string {
	return t.UTC().Format(w.timeText(loc, "tidings.stamp"))
}
