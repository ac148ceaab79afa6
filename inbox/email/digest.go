package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// DigestTemplate holds the sources of the digest mail, which lists many
// events in one mail. The templates execute against a DigestData value.
type DigestTemplate struct {
	Subject string // text/template, one line
	Text    string // text/template
	HTML    string // html/template; optional
}

// DigestData is what digest templates see.
type DigestData struct {
	Recipient Recipient
	Locale    string          // the catalog locale the reader matched, or ""
	Count     int             // number of events listed
	Summary   string          // "5 updates on 2 issues"
	Subjects  []DigestSubject // in order of each subject's first event
	// UnsubscribeURL is the one-click link for digests, or "".
	UnsubscribeURL string
}

// DigestSubject groups one subject's events in a digest.
type DigestSubject struct {
	Domain    string
	SubjectID string
	URL       string // BuilderConfig.SubjectURL of its first event, or ""
	Items     []DigestItem
}

// DigestItem is one event of a digest.
type DigestItem struct {
	Data        // what the event's own template saw
	Line string // the event's own rendered subject (or catalog line), one line
	// When is the event's time in the reader's zone and locale (with a
	// BuilderConfig.Catalog; else RFC 1123 in the reader's zone).
	When string
}

// DefaultDigestTemplate returns the digest template used when
// BuilderConfig.Digest is nil.
func DefaultDigestTemplate() DigestTemplate {
	return DigestTemplate{
		Subject: `{{.Summary}}`,
		Text: `{{.Summary}}
{{range .Subjects}}
{{.Domain}} {{.SubjectID}}{{with .URL}} ({{.}}){{end}}
{{- range .Items}}
  - {{.Line}}{{end}}
{{end}}{{with .UnsubscribeURL}}
To stop these mails: {{.}}
{{end}}`,
		HTML: `<p>{{.Summary}}</p>
{{- range .Subjects}}
<h3>{{if .URL}}<a href="{{.URL}}">{{.Domain}} {{.SubjectID}}</a>{{else}}{{.Domain}} {{.SubjectID}}{{end}}</h3>
<ul>{{range .Items}}<li>{{.Line}}</li>{{end}}</ul>
{{- end}}
{{- with .UnsubscribeURL}}
<p><a href="{{.}}">Unsubscribe</a></p>{{end}}
`,
	}
}

type compiledDigest struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func compileDigest(src DigestTemplate) (*compiledDigest, error) {
	fail := func(part string, err error) error {
		return &TemplateError{Domain: "digest", Action: "digest", Part: part, Err: err}
	}
	if strings.TrimSpace(src.Subject) == "" || strings.TrimSpace(src.Text) == "" {
		return nil, fail("", fmt.Errorf("%w: a digest template needs a subject and a text part", ErrInvalidConfig))
	}
	funcs := map[string]any{"humanize": humanize}
	c := &compiledDigest{}
	var err error
	if c.subject, err = texttemplate.New("subject").Funcs(funcs).Parse(src.Subject); err != nil {
		return nil, fail("subject", err)
	}
	if c.text, err = texttemplate.New("text").Funcs(funcs).Parse(src.Text); err != nil {
		return nil, fail("text", err)
	}
	if src.HTML != "" {
		if c.html, err = htmltemplate.New("html").Funcs(funcs).Parse(src.HTML); err != nil {
			return nil, fail("html", err)
		}
	}
	sample := sampleData("sample", "sample")
	_, err = c.render(DigestData{
		Recipient: sample.Recipient, Count: 1, Summary: "1 update on 1 sample", UnsubscribeURL: sample.UnsubscribeURL,
		Subjects: []DigestSubject{{Domain: "sample", SubjectID: "1", URL: sample.URL, Items: []DigestItem{{Data: sample, Line: "Sample line"}}}},
	})
	if err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			te.Err = fmt.Errorf("%w (digest templates may use .Recipient, .Count, .Summary, .Subjects, .UnsubscribeURL)", te.Err)
		}
		return nil, err
	}
	return c, nil
}

func (c *compiledDigest) render(d DigestData) (Rendered, error) {
	var r Rendered
	var buf bytes.Buffer
	fail := func(part string, err error) error {
		return &TemplateError{Domain: "digest", Action: "digest", Part: part, Err: err}
	}
	if err := c.subject.Execute(&buf, d); err != nil {
		return r, fail("subject", err)
	}
	r.Subject = truncate(oneLine(buf.String()), maxSubjectRunes)
	buf.Reset()
	if err := c.text.Execute(&buf, d); err != nil {
		return r, fail("text", err)
	}
	r.Text = buf.String()
	if c.html != nil {
		buf.Reset()
		if err := c.html.Execute(&buf, d); err != nil {
			return r, fail("html", err)
		}
		r.HTML = buf.String()
	}
	return r, nil
}

// BuildDigest renders one mail to recipient to listing every event, grouped
// by subject, oldest first; an event given twice is listed once. Each
// event's line is its own template's subject, so the registered templates
// must cover every action listed. The Message-ID depends only on the
// recipient and the set of events, so a retried digest is the same mail.
// Choosing which events belong to which period is the ledger's job, not
// this function's.
func (b *Builder) BuildDigest(ctx context.Context, to Recipient, events []activity.Event) (*Message, error) {
	if err := to.validate(); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("email: a digest for %s needs at least one event", to.Email)
	}
	evs := uniqueEvents(events)

	unsub, err := b.unsubscribeURL(ctx, to, nil)
	if err != nil {
		return nil, err
	}
	d := DigestData{Recipient: to, Count: len(evs), UnsubscribeURL: unsub}
	tpl := b.digest
	if cat := b.cfg.Catalog; cat != nil {
		d.Locale = cat.Match(to.Locale)
		if c := b.digestIn[d.Locale]; c != nil {
			tpl = c
		}
	}
	index := map[[2]string]int{}
	refs := make([]activity.EventRef, len(evs))
	for i, ev := range evs {
		refs[i] = ev.Ref()
		item := DigestItem{Data: Data{Event: ev, Actor: ev.Actor(), Record: ev.Record(), Extra: ev.ExtraMap(), Recipient: to, UnsubscribeURL: unsub}}
		if b.cfg.SubjectURL != nil {
			item.URL = b.cfg.SubjectURL(ev)
		}
		r, err := b.cfg.Templates.Render(ev.Domain, ev.Action, item.Data)
		if err != nil {
			return nil, err
		}
		item.Line = r.Subject
		if cat := b.cfg.Catalog; cat != nil {
			if cat.Has(cat.Fallback(), locale.Key(ev.Domain, ev.Action, locale.PartLine)) {
				item.Line = cat.Line(d.Locale, ev)
			}
			item.When = cat.FormatTime(d.Locale, ev.OccurredAt, to.Location)
		} else {
			loc := to.Location
			if loc == nil {
				loc = time.UTC
			}
			item.When = ev.OccurredAt.In(loc).Format(time.RFC1123)
		}
		k := [2]string{ev.Domain, ev.SubjectID}
		j, ok := index[k]
		if !ok {
			j = len(d.Subjects)
			index[k] = j
			d.Subjects = append(d.Subjects, DigestSubject{Domain: ev.Domain, SubjectID: ev.SubjectID, URL: item.URL})
		}
		d.Subjects[j].Items = append(d.Subjects[j].Items, item)
	}
	d.Summary = b.summary(d)
	if cat := b.cfg.Catalog; cat != nil && cat.Has(cat.Fallback(), locale.DigestSubject) {
		d.Summary = cat.Sprintf(d.Locale, locale.DigestSubject, d.Count)
	}
	r, err := tpl.render(d)
	if err != nil {
		return nil, err
	}
	return &Message{
		From:           b.from,
		To:             to,
		Subject:        r.Subject,
		Text:           r.Text,
		HTML:           r.HTML,
		MessageID:      DigestID(b.cfg.Host, to.Email, refs),
		UnsubscribeURL: unsub,
		Date:           b.date(evs[len(evs)-1].OccurredAt),
	}, nil
}

// summary says "5 updates on 2 issues", or "6 updates on 2 issues and 1 invoice".
func (b *Builder) summary(d DigestData) string {
	var domains []string
	perDomain := map[string]int{}
	for _, s := range d.Subjects {
		if perDomain[s.Domain] == 0 {
			domains = append(domains, s.Domain)
		}
		perDomain[s.Domain]++
	}
	parts := make([]string, len(domains))
	for i, dom := range domains {
		parts[i] = strconv.Itoa(perDomain[dom]) + " " + b.cfg.Noun(dom, perDomain[dom])
	}
	updates := "updates"
	if d.Count == 1 {
		updates = "update"
	}
	return fmt.Sprintf("%d %s on %s", d.Count, updates, joinAnd(parts))
}

func joinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// uniqueEvents drops repeated events (same domain and id) and sorts the
// rest by OccurredAt, then domain and id.
func uniqueEvents(events []activity.Event) []activity.Event {
	seen := map[activity.EventRef]bool{}
	out := make([]activity.Event, 0, len(events))
	for _, ev := range events {
		if seen[ev.Ref()] {
			continue
		}
		seen[ev.Ref()] = true
		out = append(out, ev)
	}
	slices.SortStableFunc(out, func(a, b activity.Event) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.Domain, b.Domain); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}
