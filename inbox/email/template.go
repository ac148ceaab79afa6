package email

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/tidingsdev/tidings/activity"
)

// AnyAction registers a template used for every action of a domain that has
// no template of its own.
const AnyAction = "*"

// Template holds the sources of one action's mail. The templates execute
// against a Data value.
type Template struct {
	// Subject is a text/template. Line breaks and other control characters
	// in its output become spaces: a subject is one line. Required.
	Subject string
	// Text is a text/template for the plain-text body. Required.
	Text string
	// HTML is an html/template for the HTML body, escaped in context.
	// Optional: without it the mail is text only.
	HTML string
}

// Data is what templates see.
type Data struct {
	Event     activity.Event
	Actor     activity.Ref  // the event's actor
	Record    *activity.Ref // the event's record, nil when it has none
	Extra     map[string]any
	Recipient Recipient

	URL            string // link to the event's subject (BuilderConfig.SubjectURL), or ""
	SubjectName    string // the subject's name (BuilderConfig.SubjectName), or ""
	UnsubscribeURL string // the one-click unsubscribe link, or ""
}

// Field returns the extra value under key as text, "" when absent. Prefer
// {{.Field "body"}} to {{.Extra.body}}, which prints "<no value>" for a
// missing key.
func (d Data) Field(key string) string {
	v, ok := d.Extra[key]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// dataFields names what a template may use, for error messages.
const dataFields = "fields .Event, .Actor, .Record, .Extra, .Recipient, .URL, .SubjectName, .UnsubscribeURL and method .Field"

// Rendered is the output of one template.
type Rendered struct {
	Subject string // one line
	Text    string
	HTML    string // "" when the template has no HTML part
}

// TemplatesConfig configures Templates.
type TemplatesConfig struct {
	// Funcs are extra functions available to all three parts, added to the
	// built-in "humanize" ("comment_added" -> "comment added").
	Funcs map[string]any
}

// Templates is a registry of mail templates keyed by (domain, action).
// Register at start-up; Render is safe for concurrent use.
type Templates struct {
	funcs map[string]any

	mu    sync.RWMutex
	byKey map[templateKey]*compiled
}

type templateKey struct{ domain, action string }

type compiled struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewTemplates returns an empty registry.
func NewTemplates(cfg TemplatesConfig) *Templates {
	funcs := map[string]any{"humanize": humanize}
	for k, v := range cfg.Funcs {
		funcs[k] = v
	}
	return &Templates{funcs: funcs, byKey: map[templateKey]*compiled{}}
}

// Register parses src for (domain, action) and checks it by executing every
// part against sample data, so a misspelt field ({{.Actr}}) or function is an
// error now, not when the first mail goes out. Keys of Extra cannot be
// checked: they vary per event. action may be AnyAction. Registering a key
// again replaces its template.
func (t *Templates) Register(domain, action string, src Template) error {
	if domain == "" || action == "" {
		return &TemplateError{Domain: domain, Action: action, Err: fmt.Errorf("%w: domain and action must both be set (action may be %q)", ErrInvalidConfig, AnyAction)}
	}
	fail := func(part string, err error) error {
		return &TemplateError{Domain: domain, Action: action, Part: part, Err: err}
	}
	if strings.TrimSpace(src.Subject) == "" {
		return fail("subject", fmt.Errorf("%w: the subject template is empty", ErrInvalidConfig))
	}
	if strings.TrimSpace(src.Text) == "" {
		return fail("text", fmt.Errorf("%w: the plain-text template is empty; every mail needs a text part", ErrInvalidConfig))
	}
	c := &compiled{}
	var err error
	if c.subject, err = texttemplate.New("subject").Funcs(t.funcs).Parse(src.Subject); err != nil {
		return fail("subject", err)
	}
	if c.text, err = texttemplate.New("text").Funcs(t.funcs).Parse(src.Text); err != nil {
		return fail("text", err)
	}
	if src.HTML != "" {
		if c.html, err = htmltemplate.New("html").Funcs(t.funcs).Parse(src.HTML); err != nil {
			return fail("html", err)
		}
	}
	if _, err := c.render(sampleData(domain, action)); err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			te.Domain, te.Action = domain, action
			te.Err = fmt.Errorf("%w (templates may use %s)", te.Err, dataFields)
			return te
		}
		return fail("", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byKey[templateKey{domain, action}] = c
	return nil
}

// MustRegister is Register that panics on error, for package-level setup
// of templates known at compile time.
func (t *Templates) MustRegister(domain, action string, src Template) {
	if err := t.Register(domain, action, src); err != nil {
		panic(err)
	}
}

// Has reports whether a template would be found for (domain, action).
func (t *Templates) Has(domain, action string) bool {
	_, ok := t.lookup(domain, action)
	return ok
}

// Render executes the template registered for (domain, action), or else the
// domain's AnyAction template. Without either it returns an error matching
// ErrNoTemplate.
func (t *Templates) Render(domain, action string, d Data) (Rendered, error) {
	c, ok := t.lookup(domain, action)
	if !ok {
		return Rendered{}, &TemplateError{Domain: domain, Action: action, Err: fmt.Errorf("%w for this action; registered: %s", ErrNoTemplate, t.keys())}
	}
	r, err := c.render(d)
	if err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			te.Domain, te.Action = domain, action
			return Rendered{}, te
		}
		return Rendered{}, err
	}
	return r, nil
}

func (t *Templates) lookup(domain, action string) (*compiled, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c, ok := t.byKey[templateKey{domain, action}]; ok {
		return c, true
	}
	c, ok := t.byKey[templateKey{domain, AnyAction}]
	return c, ok
}

func (t *Templates) keys() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.byKey) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(t.byKey))
	for k := range t.byKey {
		ks = append(ks, k.domain+"/"+k.action)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func (c *compiled) render(d Data) (Rendered, error) {
	var r Rendered
	var buf bytes.Buffer
	if err := c.subject.Execute(&buf, d); err != nil {
		return r, &TemplateError{Part: "subject", Err: err}
	}
	r.Subject = truncate(oneLine(buf.String()), maxSubjectRunes)
	buf.Reset()
	if err := c.text.Execute(&buf, d); err != nil {
		return r, &TemplateError{Part: "text", Err: err}
	}
	r.Text = buf.String()
	if c.html != nil {
		buf.Reset()
		if err := c.html.Execute(&buf, d); err != nil {
			return r, &TemplateError{Part: "html", Err: err}
		}
		r.HTML = buf.String()
	}
	return r, nil
}

// sampleData is what Register executes templates against: every pointer
// set, so every branch that depends on one is checked.
func sampleData(domain, action string) Data {
	rt, rid, rl := "records", "1", "Sample record"
	ev := activity.Event{
		ID: 1, Domain: domain, SubjectID: "1", Action: action,
		ActorType: "users", ActorID: "1", ActorLabel: "Sample actor",
		RecordType: &rt, RecordID: &rid, RecordLabel: &rl,
		Extra: []byte("{}"),
	}
	return Data{
		Event: ev, Actor: ev.Actor(), Record: ev.Record(), Extra: map[string]any{},
		Recipient: Recipient{ID: "1", Name: "Sample recipient", Email: "sample@example.com"},
		URL:       "https://example.com/1", UnsubscribeURL: "https://example.com/unsubscribe",
	}
}

// humanize turns an action name into words: "comment_added" -> "comment added".
func humanize(action string) string {
	return strings.Join(strings.FieldsFunc(action, func(r rune) bool { return r == '_' || r == '-' || r == '.' }), " ")
}

// DefaultTemplate returns a generic template that fits any action:
// "Ana: comment added on issue 42". Register it under AnyAction for a
// domain to mail every action without writing templates first.
func DefaultTemplate() Template {
	return Template{
		Subject: `{{.Actor.Label}}: {{humanize .Event.Action}} on {{.Event.Domain}} {{.Event.SubjectID}}`,
		Text: `{{.Actor.Label}}: {{humanize .Event.Action}} on {{.Event.Domain}} {{.Event.SubjectID}}
{{- with .Record}}
{{.Type}}: {{.Label}}{{end}}
{{- range $k, $v := .Extra}}
{{$k}}: {{$v}}{{end}}
{{with .URL}}
{{.}}
{{end}}{{with .UnsubscribeURL}}
To stop these mails: {{.}}
{{end}}`,
		HTML: `<p><strong>{{.Actor.Label}}</strong>: {{humanize .Event.Action}} on {{.Event.Domain}} {{.Event.SubjectID}}</p>
{{- with .Record}}
<p>{{.Type}}: {{.Label}}</p>{{end}}
{{- if .Extra}}
<table>{{range $k, $v := .Extra}}<tr><th>{{$k}}</th><td>{{$v}}</td></tr>{{end}}</table>{{end}}
{{- with .URL}}
<p><a href="{{.}}">Open</a></p>{{end}}
{{- with .UnsubscribeURL}}
<p><a href="{{.}}">Unsubscribe</a></p>{{end}}
`,
	}
}
