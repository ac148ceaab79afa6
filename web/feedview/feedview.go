// Package feedview renders activity feeds for people: one sentence per
// event from per-action templates ("Ana added the label bug"), runs of
// similar events folded into one line ("Ana added 3 labels"), and relative
// times ("3 min ago"). It produces plain values; pages escape them where
// they are written (html/template does).
//
//	r := feedview.New(feedview.Config{
//		Actions: map[string]feedview.Action{
//			"comment_added": {Icon: "✎", Verb: "commented", Detail: feedview.RecordLabel, Fold: "added %d comments"},
//			"label_added":   {Icon: "⚑", Verb: "added the label", Object: feedview.ExtraString("name"), Fold: "added %d labels", Inline: true},
//			"issue_opened":  {Verb: "opened the issue", Object: feedview.ExtraString("title"), AboutSubject: true},
//		},
//		Permalink: func(e activity.Entry) string { return fmt.Sprintf("/events/%d", e.ID) },
//	})
//	groups := r.Fold(r.Lines(page.Entries, titles))
//
// The event browser (package web/eventbrowser) and cmd/demo use it.
package feedview

import (
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// Action says how to tell one action.
type Action struct {
	// Icon is a short symbol shown before the line. Default "•".
	Icon string
	// Verb is the sentence's verb phrase ("added the label"). Default: the
	// action's name.
	Verb string
	// Object returns what the action was about, shown after the verb
	// ("bug"). Default: nothing.
	Object func(e activity.Entry) string
	// Detail returns a longer text shown under the line (a comment's
	// body). Default: nothing.
	Detail func(e activity.Entry) string
	// Describe, when set, fills the line itself and overrides Verb, Object
	// and Detail: for sentences that depend on extra ("assigned Bo",
	// "unassigned Ana").
	Describe func(e activity.Entry, l *Line)
	// Fold folds runs of this action by one actor on one subject into one
	// line: a format with one %d, "added %d labels". Empty: never folded.
	Fold string
	// Inline shows a folded run's objects inline (labels) rather than as
	// a list (comments).
	Inline bool
	// AboutSubject says the object is the subject itself ("opened the
	// issue Login fails"): a feed across subjects does not add "on Login
	// fails" after it, and names the subject as the object when Object
	// gave none.
	AboutSubject bool
}

// Config configures a Renderer. Zero fields take the documented defaults.
type Config struct {
	// Actions tell each action; actions without an entry read "<actor>
	// <action>".
	Actions map[string]Action
	// Gap is the longest pause between two events of a folded run.
	// Default one hour.
	Gap time.Duration
	// Permalink links an event's line ("/events/42"). Default: no link.
	Permalink func(e activity.Entry) string
	// ActorHref links an actor ("/users/7"). Default: no link.
	ActorHref func(actor activity.Ref) string
	// SubjectHref links a subject in feeds across subjects. Default: no
	// link.
	SubjectHref func(domain, subjectID string) string
}

// Renderer turns entries into lines and groups. It is safe for concurrent
// use.
type Renderer struct{ cfg Config }

// New returns a Renderer.
func New(cfg Config) *Renderer {
	if cfg.Gap == 0 {
		cfg.Gap = time.Hour
	}
	return &Renderer{cfg: cfg}
}

// Line is one event as a feed shows it.
type Line struct {
	activity.Entry
	Icon       string
	ActorName  string
	ActorHref  string
	Verb       string // "added the label"
	Object     string // "bug"
	ObjectHref string
	Detail     string // a comment's text, shown under the line
	Deleted    bool   // the record's row is gone
	// Subject and SubjectHref name the event's subject in feeds across
	// subjects; empty when the line's object is the subject already.
	Subject     string
	SubjectHref string
	Href        string // the event's permalink
}

// Group is a run of consecutive similar lines ("Ana added 3 labels"), or
// one line.
type Group struct {
	First   Line
	Items   []Line
	Summary string // "added 3 labels"; empty for a single event
	Inline  bool   // show the items' objects inline rather than as a list
}

// Line renders one entry. subjects names subjects by key for feeds across
// subjects (nil for one subject's feed): a subject missing from it is
// shown as "#key".
func (r *Renderer) Line(e activity.Entry, subjects map[string]string) Line {
	a := r.cfg.Actions[e.Action]
	l := Line{Entry: e, Icon: a.Icon, ActorName: e.ActorName(), Verb: a.Verb, Deleted: e.RecordDeleted()}
	if l.Icon == "" {
		l.Icon = "•"
	}
	if l.Verb == "" {
		l.Verb = e.Action
	}
	if r.cfg.ActorHref != nil {
		l.ActorHref = r.cfg.ActorHref(e.Actor())
	}
	if r.cfg.Permalink != nil {
		l.Href = r.cfg.Permalink(e)
	}
	if a.Object != nil {
		l.Object = a.Object(e)
	}
	if a.Detail != nil {
		l.Detail = a.Detail(e)
	}
	if a.Describe != nil {
		a.Describe(e, &l)
	}
	if subjects != nil && a.AboutSubject && l.Object == "" {
		l.Object = subjects[e.SubjectID]
	}
	if subjects != nil && !a.AboutSubject {
		l.Subject = subjects[e.SubjectID]
		if l.Subject == "" {
			l.Subject = "#" + e.SubjectID
		}
		if r.cfg.SubjectHref != nil {
			l.SubjectHref = r.cfg.SubjectHref(e.Domain, e.SubjectID)
		}
	}
	return l
}

// Lines renders entries (see Line).
func (r *Renderer) Lines(entries []activity.Entry, subjects map[string]string) []Line {
	out := make([]Line, len(entries))
	for i, e := range entries {
		out[i] = r.Line(e, subjects)
	}
	return out
}

// Fold groups consecutive lines of one foldable action by one actor on one
// subject, each within Config.Gap of the next. Lines must be newest first
// (as feeds are).
func (r *Renderer) Fold(lines []Line) []Group {
	var out []Group
	for _, l := range lines {
		if n := len(out); n > 0 {
			g := &out[n-1]
			last := g.Items[len(g.Items)-1]
			a := r.cfg.Actions[l.Action]
			if a.Fold != "" && l.Action == last.Action && l.Domain == last.Domain && l.SubjectID == last.SubjectID &&
				l.ActorType == last.ActorType && l.ActorID == last.ActorID &&
				last.OccurredAt.Sub(l.OccurredAt) <= r.cfg.Gap && l.Repeats == 0 && last.Repeats == 0 {
				g.Items = append(g.Items, l)
				g.Summary = fmt.Sprintf(a.Fold, len(g.Items))
				g.Inline = a.Inline
				continue
			}
		}
		out = append(out, Group{First: l, Items: []Line{l}})
	}
	return out
}

// ExtraString returns an Object or Detail function reading a string field
// of the event's extra.
func ExtraString(key string) func(e activity.Entry) string {
	return func(e activity.Entry) string {
		s, _ := e.ExtraMap()[key].(string)
		return s
	}
}

// RecordLabel is an Object or Detail function: the record's name (its
// label snapshot when the row is gone).
func RecordLabel(e activity.Entry) string { return e.RecordName() }

// Ago renders t relative to now: "just now", "3 min ago", "2 h ago",
// "yesterday", "5 days ago", then the date ("17 Nov 2026"). A time in the
// future (clock skew) reads "just now".
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", max(1, int(d.Round(time.Minute)/time.Minute)))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 48*time.Hour:
		return "yesterday"
	case d < 30*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
	return t.Format("2 Jan 2006")
}
