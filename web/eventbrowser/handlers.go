package eventbrowser

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/workflow"
)

// Filter is the list's query, as its form sends it.
type Filter struct {
	Domain, Action, Actor, Subject, Correlation, Since, Until string
}

// choice is an option of a filter's select: its value and what people
// read.
type choice struct{ Value, Label string }

type listData struct {
	Domains []choice
	Actions []choice
	Filter  Filter
	// Since and Until are the date fields' examples: yesterday and today.
	Since, Until string
	Error        string // what was wrong with the filter
	NoList       bool
	Groups       []feedview.Group
	Next         string
}

// maxFilter caps each filter field, in bytes.
const maxFilter = 200

// parseTime reads the filter time field: a date (2026-11-17, midnight UTC), a
// datetime-local value (2026-11-17T09:30) or RFC 3339. today is the
// date its error gives as an example.
func (b *Browser) parseTime(loc, field, v, today string) (time.Time, error) {
	name := b.cfg.Words.Text(loc, "eventbrowser.filter."+field)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, errors.New(b.cfg.Words.Text(loc, "eventbrowser.error.time_range", name, v))
			}
			return t, nil
		}
	}
	return time.Time{}, errors.New(b.cfg.Words.Text(loc, "eventbrowser.error.time", name, v, today, today))
}

func (b *Browser) list(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	f := Filter{Domain: qs.Get("domain"), Action: qs.Get("action"), Actor: strings.TrimSpace(qs.Get("actor")),
		Subject: strings.TrimSpace(qs.Get("subject")), Correlation: strings.TrimSpace(qs.Get("correlation")),
		Since: strings.TrimSpace(qs.Get("since")), Until: strings.TrimSpace(qs.Get("until"))}
	loc := b.locale(r)
	now := b.cfg.Now().UTC()
	today := now.Format("2006-01-02")
	d := listData{Filter: f, Since: now.AddDate(0, 0, -1).Format("2006-01-02"), Until: today}
	for _, n := range b.names {
		d.Domains = append(d.Domains, choice{n, b.cfg.Words.Domain(loc, n)})
	}
	actions := func(dom *activity.Domain) []choice {
		var out []choice
		for _, a := range dom.Actions() {
			out = append(out, choice{a, b.cfg.Words.Action(loc, dom, a)})
		}
		return out
	}
	bad := func(msg string) {
		d.Error = msg
		if d.Actions == nil && b.domains[f.Domain] != nil {
			d.Actions = actions(b.domains[f.Domain])
		}
		b.render(w, r, http.StatusBadRequest, "list", "eventbrowser.title", d)
	}
	for name, v := range map[string]string{"domain": f.Domain, "action": f.Action, "actor": f.Actor, "subject": f.Subject,
		"correlation": f.Correlation, "since": f.Since, "until": f.Until, "after": qs.Get("after")} {
		if len(v) > maxFilter || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			bad(b.cfg.Words.Text(loc, "eventbrowser.error.text", b.cfg.Words.Text(loc, "eventbrowser.filter."+name), maxFilter))
			return
		}
	}
	if f.Domain == "" {
		f.Domain = b.names[0]
		d.Filter.Domain = f.Domain
	}
	dom := b.domains[f.Domain]
	if dom == nil {
		bad(b.cfg.Words.Text(loc, "eventbrowser.error.domain", f.Domain, strings.Join(b.names, ", ")))
		return
	}
	d.Actions = actions(dom)
	q := activity.FeedQuery{CorrelationID: f.Correlation, After: activity.Cursor(qs.Get("after")), Limit: b.cfg.PageSize}
	if sq := b.scope(r, dom); sq != nil {
		q.SubjectsIn = sq
	}
	if f.Action != "" {
		if err := dom.CheckAction(f.Action); err != nil { // an alias passes: the feed reads it
			bad(b.inputError(loc, err, qs.Get("after")))
			return
		}
		q.Actions = []string{f.Action}
	}
	if f.Actor != "" {
		typ, id, ok := strings.Cut(f.Actor, ":")
		if !ok || typ == "" || id == "" {
			bad(b.cfg.Words.Text(loc, "eventbrowser.error.actor", f.Actor))
			return
		}
		q.Actor = activity.Ref{Type: typ, ID: id}
	}
	if f.Subject != "" {
		q.Subject = f.Subject
	}
	var err error
	if f.Since != "" {
		if q.Since, err = b.parseTime(loc, "since", f.Since, today); err != nil {
			bad(err.Error())
			return
		}
	}
	if f.Until != "" {
		if q.Until, err = b.parseTime(loc, "until", f.Until, today); err != nil {
			bad(err.Error())
			return
		}
	}
	page, err := dom.Feed(r.Context(), b.cfg.DB, q)
	if isInputError(err) {
		bad(b.inputError(loc, err, qs.Get("after")))
		return
	}
	if err != nil {
		b.fail(w, r, err)
		return
	}
	lines, err := b.lines(r.Context(), loc, dom.Name(), page.Entries)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	d.Groups = b.cfg.Feed.Fold(lines)
	if page.Next != "" {
		next := url.Values{}
		for k, v := range qs {
			next[k] = v
		}
		next.Set("after", page.Next.String())
		d.Next = b.path("/?" + next.Encode())
	}
	b.render(w, r, http.StatusOK, "list", "eventbrowser.title", d)
}

func isInputError(err error) bool {
	for _, e := range []error{activity.ErrInvalidCursor, activity.ErrInvalidRef, activity.ErrInvalidSubject, activity.ErrUnknownAction, activity.ErrInvalidQuery} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// inputError says in the reader's words why the activity package refused
// the list's query, by the error's type (never its text): an unknown
// action (eventbrowser.error.action, .action_suggest), a page link whose
// cursor (after) the feed did not make (eventbrowser.error.cursor), an
// Until not after Since (eventbrowser.error.until). Their English is the
// activity package's word for word; what else it refuses (a subject or
// an actor it cannot read) is said as it says it.
func (b *Browser) inputError(loc string, err error, after string) string {
	var ua *activity.UnknownActionError
	var qe *activity.QueryError
	switch {
	case errors.As(err, &ua) && ua.Suggestion != "":
		return b.cfg.Words.Text(loc, "eventbrowser.error.action_suggest", ua.Action, ua.Domain, ua.Suggestion)
	case errors.As(err, &ua):
		return b.cfg.Words.Text(loc, "eventbrowser.error.action", ua.Action, ua.Domain, strings.Join(ua.Supported, ", "))
	case errors.Is(err, activity.ErrInvalidCursor):
		return b.cfg.Words.Text(loc, "eventbrowser.error.cursor", after)
	case errors.As(err, &qe) && qe.Field == "Until":
		return b.cfg.Words.Text(loc, "eventbrowser.error.until")
	}
	return err.Error()
}

type eventData struct {
	Line        feedview.Line
	Subject     Subject
	Extra       string
	Cause       *feedview.Line
	CauseRef    string
	Caused      []feedview.Line
	Runs        []workflow.Run
	ShowRuns    bool
	RuleHref    func(int64) string
	Correlation string // the list filtered by the correlation id
	Action      string // the action in the reader's words
}

func (d eventData) RuleLink(id int64) string {
	if d.RuleHref == nil {
		return ""
	}
	return d.RuleHref(id)
}

// notFound says that the event of key (with args) does not exist.
func (b *Browser) notFound(w http.ResponseWriter, r *http.Request, key string, args ...any) {
	b.render(w, r, http.StatusNotFound, "list", "eventbrowser.not_found", listData{Error: b.text(r, key, args...), NoList: true})
}

func (b *Browser) event(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	dom := b.domains[r.PathValue("domain")]
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if dom == nil || err != nil || id <= 0 {
		b.notFound(w, r, "eventbrowser.missing.event")
		return
	}
	ev, err := dom.Event(ctx, b.cfg.DB, id)
	if errors.Is(err, activity.ErrEventNotFound) {
		b.notFound(w, r, "eventbrowser.missing.event_ref", dom.Name(), id)
		return
	}
	if err != nil {
		b.fail(w, r, err)
		return
	}
	if ok, err := b.visible(r, dom, ev.SubjectID); err != nil {
		b.fail(w, r, err)
		return
	} else if !ok {
		b.notFound(w, r, "eventbrowser.missing.event_ref", dom.Name(), id) // not another tenant's either
		return
	}
	entries, err := dom.Resolve(ctx, b.cfg.DB, []activity.Event{ev})
	if err != nil {
		b.fail(w, r, err)
		return
	}
	loc := b.locale(r)
	lines, err := b.lines(ctx, loc, dom.Name(), entries)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	d := eventData{Line: lines[0], Extra: prettyJSON(ev.Extra), ShowRuns: b.cfg.Rules != nil, RuleHref: b.cfg.RuleHref,
		Action: b.cfg.Words.Action(loc, dom, ev.Action)}
	d.Line.Subject, d.Line.SubjectHref = "", ""
	if names, err := b.subjects(ctx, loc, dom.Name(), []string{ev.SubjectID}); err != nil {
		b.fail(w, r, err)
		return
	} else if s, ok := names[ev.SubjectID]; ok {
		d.Subject = s
	}
	if ev.CorrelationID != nil && *ev.CorrelationID != "" {
		d.Correlation = b.path("/?" + url.Values{"domain": {dom.Name()}, "correlation": {*ev.CorrelationID}}.Encode())
	}
	if cause, ok := ev.Cause(); ok {
		d.CauseRef = cause.String()
		if cd := b.domains[cause.Domain]; cd != nil {
			ce, err := cd.Event(ctx, b.cfg.DB, cause.ID)
			if err == nil {
				if ok, verr := b.visible(r, cd, ce.SubjectID); verr != nil {
					err = verr
				} else if !ok {
					err = activity.ErrEventNotFound
				}
			}
			switch {
			case errors.Is(err, activity.ErrEventNotFound):
			case err != nil:
				b.fail(w, r, err)
				return
			default:
				ces, err := cd.Resolve(ctx, b.cfg.DB, []activity.Event{ce})
				if err != nil {
					b.fail(w, r, err)
					return
				}
				cl, err := b.lines(ctx, loc, cd.Name(), ces)
				if err != nil {
					b.fail(w, r, err)
					return
				}
				d.Cause = &cl[0]
			}
		}
	}
	ref := ev.Ref()
	for _, name := range b.names {
		cd := b.domains[name]
		page, err := cd.Feed(ctx, b.cfg.DB, activity.FeedQuery{CausedBy: &ref, Limit: 50, SubjectsIn: b.scope(r, cd)})
		if err != nil {
			b.fail(w, r, err)
			return
		}
		ls, err := b.lines(ctx, loc, name, page.Entries)
		if err != nil {
			b.fail(w, r, err)
			return
		}
		d.Caused = append(d.Caused, ls...)
	}
	if b.cfg.Rules != nil {
		if d.Runs, err = b.cfg.Rules.Runs(ctx, workflow.RunQuery{Event: &ref, Limit: 100}); err != nil {
			b.fail(w, r, err)
			return
		}
	}
	b.render(w, r, http.StatusOK, "event", "eventbrowser.event_title", d, dom.Name(), id)
}
