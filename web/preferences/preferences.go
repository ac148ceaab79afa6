package preferences

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web"
)

//go:embed templates/page.html
var files embed.FS

// ErrInvalidConfig is returned (inside a *ConfigError) by New.
var ErrInvalidConfig = errors.New("preferences: invalid configuration")

// ConfigError reports a configuration field that cannot work.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string        { return "preferences: " + e.Field + " " + e.Reason }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Topic is one row of the page: an action of a domain people may choose
// to hear of.
type Topic struct {
	Domain, Action string
	// Label names the row ("Comments on issues you follow"). Default: the
	// app's locale catalog (Config.Words), else the action catalog's Doc
	// (with Config.Domains), else the action in words ("Comment added").
	Label string
}

// Channel is one column: a channel inboxes deliver on.
type Channel struct {
	Name string // inbox.ChannelApp, inbox.ChannelEmail, ...
	// Label names the column. Default: the locale catalog's
	// tidings.channel.<name>, else "In the app", "Email", ...
	Label string
}

// RecipientFunc says whose preferences a request may see and change; ok
// false refuses (403).
//
// Deprecated: give the page a web.Identity (Config.Identity or
// web.Middleware); its Person's ID is the recipient. Recipient is asked
// only of a request that carries no identity.
type RecipientFunc func(r *http.Request) (recipient string, ok bool)

// SubjectsFunc names the subjects a person muted ("Login fails"), for the
// list of muted subjects. Missing keys show as "#key".
type SubjectsFunc func(ctx context.Context, domain string, keys []string) (map[string]string, error)

// Config configures a Page. Zero fields take the documented defaults.
type Config struct {
	// DB holds notification_preferences. Required.
	DB *gorm.DB
	// Topics are the rows. Required.
	Topics []Topic
	// Channels are the columns: the channels the app's inboxes deliver on,
	// and only those (no Email column for an app without an email inbox).
	// Default: in the app only.
	Channels []Channel
	// Defaults are the app's defaults and critical kinds: the same value
	// the inboxes are given. Default nil: everything on, nothing critical.
	Defaults *inbox.Defaults
	// Identity says who asks, when the request carries no web.Identity
	// (web.Middleware): the signed-in person's preferences, in their
	// tenant. Default none: the identity on the request's context, else
	// Recipient, else refuse.
	Identity web.IdentityFunc
	// Theme wraps the page in the app's layout and stylesheet. With the
	// default layout the page sends a Content-Security-Policy allowing no
	// script; with the app's, the app's own headers stand.
	Theme web.Theme
	// Words says the page's texts (Messages) and names topics and
	// channels in the reader's language: the app's locale catalog over
	// the English defaults. Default: English.
	Words web.Words
	// Domains are the topics' domains, for their action catalog (labels)
	// and tenancy (a person without a tenant is refused a tenanted
	// domain's page). Default none.
	Domains []*activity.Domain
	// Recipient authorizes requests that carry no identity.
	//
	// Deprecated: use Identity.
	Recipient RecipientFunc
	// Prefix is the path the page is mounted at ("/settings/notifications"),
	// no trailing slash. Default "".
	Prefix string
	// Subjects names muted subjects. Default: "#key".
	Subjects SubjectsFunc
	// Home is a link back to the app. Default none.
	Home string
	// Logger reports failed requests. Default slog.Default().
	Logger *slog.Logger
	// Deliveries, when set, adds a "how" row per channel and domain: the
	// person picks one of these (immediately, daily at 08:00, ...), stored
	// with inbox.Defaults.SetChoice for every action of the domain, and
	// honoured by inboxes with batching on. Default none: no such row.
	Deliveries []DeliveryOption
}

// DeliveryOption is one choice of the delivery row.
type DeliveryOption struct {
	Label  string // "Daily digest at 08:00"
	Choice inbox.Choice
}

// Page is the preference page and its JSON API, an http.Handler serving
// under Prefix:
//
//	GET  /          the page: a row per topic, a column per channel, a
//	                checkbox per cell (critical ones locked on), and the
//	                subjects the person muted
//	POST /          the page's form: saves every cell
//	POST /subjects  unmute (or mute) one subject, from the page
//	GET  /api       the same as JSON (State)
//	POST /api       change one cell or subject: a Change as JSON
type Page struct {
	cfg  Config
	page *template.Template
	mux  *http.ServeMux
}

// New checks cfg and returns the page.
func New(cfg Config) (*Page, error) {
	switch {
	case cfg.DB == nil:
		return nil, &ConfigError{"Config.DB", "is nil"}
	case len(cfg.Topics) == 0:
		return nil, &ConfigError{"Config.Topics", "is empty: list the actions people may choose about"}
	case web.BadPrefix(cfg.Prefix):
		return nil, &ConfigError{"Config.Prefix", fmt.Sprintf("is %q: start it with a slash and drop the trailing one", cfg.Prefix)}
	}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	for i, t := range cfg.Topics {
		if t.Domain == "" || t.Action == "" || t.Action == inbox.AnyAction {
			return nil, &ConfigError{fmt.Sprintf("Config.Topics[%d]", i), "needs a Domain and an Action (not AnyAction)"}
		}
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []Channel{{Name: inbox.ChannelApp}}
	}
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, &ConfigError{fmt.Sprintf("Config.Domains[%d]", i), "is nil"}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for i, o := range cfg.Deliveries {
		if err := o.Choice.Check(); err != nil || o.Choice.Mode == inbox.Off || o.Label == "" {
			return nil, &ConfigError{fmt.Sprintf("Config.Deliveries[%d]", i), "needs a Label and an immediate or batched Choice (off is the checkboxes' job)"}
		}
	}
	defaults := Messages()
	maps.Copy(defaults, cfg.Words.Defaults)
	cfg.Words.Defaults = defaults
	p := &Page{cfg: cfg}
	p.page = template.Must(template.New("").Funcs(template.FuncMap{"path": func(s string) string { return cfg.Prefix + s }}).ParseFS(files, "templates/page.html"))
	mux := http.NewServeMux()
	pre := cfg.Prefix
	mux.HandleFunc("GET "+pre+"/"+web.StylesheetFile, web.ServeStylesheet)
	mux.HandleFunc("GET "+pre+"/{$}", p.authorized(p.show))
	mux.HandleFunc("POST "+pre+"/{$}", p.authorized(p.saveForm))
	mux.HandleFunc("POST "+pre+"/subjects", p.authorized(p.subjectForm))
	mux.HandleFunc("POST "+pre+"/delivery", p.authorized(p.deliveryForm))
	mux.HandleFunc("GET "+pre+"/api", p.authorized(p.getJSON))
	mux.HandleFunc("POST "+pre+"/api", p.authorized(p.postJSON))
	p.mux = mux
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// authorized passes the request's person to h: the web.Identity's (on the
// request's context, or from Config.Identity), else Recipient's for a
// request without an identity.
func (p *Page) authorized(h func(w http.ResponseWriter, r *http.Request, recipient string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		id, err := web.Identify(r, p.cfg.Identity)
		switch {
		case errors.Is(err, web.ErrNoIdentity):
			if p.cfg.Recipient == nil {
				http.Error(w, "preferences: every request is refused until the app gives an identity (Config.Identity or web.Middleware)", http.StatusForbidden)
				return
			}
			recipient, ok := p.cfg.Recipient(r)
			if !ok || recipient == "" {
				http.Error(w, p.cfg.Words.Text(p.cfg.Words.Locale(r, id), "preferences.refused.sign_in"), http.StatusForbidden)
				return
			}
			if _, ok := activity.TenantFrom(r.Context()); !ok && p.tenanted() {
				http.Error(w, p.cfg.Words.Text(p.cfg.Words.Locale(r, id), "preferences.refused.tenant"), http.StatusForbidden)
				return
			}
			h(w, r, recipient)
			return
		case err != nil:
			p.fail(w, r, err)
			return
		case !id.SignedIn() || id.Recipient() == "":
			http.Error(w, p.cfg.Words.Text(p.cfg.Words.Locale(r, id), "preferences.refused.sign_in"), http.StatusUnauthorized)
			return
		case id.Tenant == nil && p.tenanted():
			http.Error(w, p.cfg.Words.Text(p.cfg.Words.Locale(r, id), "preferences.refused.tenant"), http.StatusForbidden)
			return
		}
		ctx := web.WithIdentity(r.Context(), id)
		if id.Tenant != nil {
			ctx = activity.WithTenant(ctx, id.Tenant)
		}
		h(w, r.WithContext(ctx), id.Recipient())
	}
}

// tenanted reports whether a domain of Config.Domains is tenanted: then a
// request without a tenant is refused.
func (p *Page) tenanted() bool {
	return slices.ContainsFunc(p.cfg.Domains, (*activity.Domain).Tenanted)
}

// locale is the reader's locale, for Words.
func (p *Page) locale(ctx context.Context) string {
	id, _ := web.IdentityFrom(ctx)
	if p.cfg.Words.Catalog == nil {
		return ""
	}
	return p.cfg.Words.Catalog.Match(id.Locale)
}

// topicLabel names a topic for a reader of loc.
func (p *Page) topicLabel(loc string, t Topic) string {
	if t.Label != "" {
		return t.Label
	}
	for _, d := range p.cfg.Domains {
		if d.Name() == t.Domain {
			return p.cfg.Words.Action(loc, d, t.Action)
		}
	}
	label := web.Humanize(t.Action)
	return strings.ToUpper(label[:1]) + label[1:]
}

// channelLabel names a channel for a reader of loc.
func (p *Page) channelLabel(loc string, c Channel) string {
	if c.Label != "" {
		return c.Label
	}
	return p.cfg.Words.Channel(loc, c.Name)
}

// Cell is one topic on one channel for one person.
type Cell struct {
	Channel    string `json:"channel"`
	On         bool   `json:"on"`         // delivered
	Default    bool   `json:"default"`    // what the app does for who chose nothing
	Overridden bool   `json:"overridden"` // the person's own choice decides
	Critical   bool   `json:"critical"`   // always delivered; cannot be turned off
}

// TopicState is one row.
type TopicState struct {
	Domain string `json:"domain"`
	Action string `json:"action"`
	Label  string `json:"label"`
	Cells  []Cell `json:"cells"`
}

// MutedSubject is one subject the person muted on a channel.
type MutedSubject struct {
	Domain    string `json:"domain"`
	SubjectID string `json:"subject_id"`
	Channel   string `json:"channel"`
	Label     string `json:"label"`
	// ChannelLabel names the channel for people.
	ChannelLabel string `json:"channel_label"`
}

// State is a person's preferences as the page and GET /api show them.
type State struct {
	Channels []Channel      `json:"channels"`
	Topics   []TopicState   `json:"topics"`
	Muted    []MutedSubject `json:"muted_subjects"`
	// Delivery is how each channel delivers each domain (with
	// Config.Deliveries).
	Delivery []DeliveryState `json:"delivery,omitempty"`
}

// State computes recipient's effective preferences (one query).
func (p *Page) State(ctx context.Context, recipient string) (State, error) {
	prefs, err := inbox.Preferences(ctx, p.cfg.DB, recipient)
	if err != nil {
		return State{}, err
	}
	loc := p.locale(ctx)
	st := State{}
	for _, c := range p.cfg.Channels {
		st.Channels = append(st.Channels, Channel{Name: c.Name, Label: p.channelLabel(loc, c)})
	}
	for _, t := range p.cfg.Topics {
		ts := TopicState{Domain: t.Domain, Action: t.Action, Label: p.topicLabel(loc, t)}
		for _, c := range p.cfg.Channels {
			cell := Cell{Channel: c.Name, Default: p.cfg.Defaults.DefaultOn(c.Name, t.Domain, t.Action)}
			_, cell.Critical = p.cfg.Defaults.CriticalKind(c.Name, t.Domain, t.Action)
			cell.On = cell.Default
			if best, ok := mostSpecific(prefs, c.Name, t.Domain, t.Action); ok && !cell.Critical {
				cell.On = !best.Muted
				cell.Overridden = true
			}
			ts.Cells = append(ts.Cells, cell)
		}
		st.Topics = append(st.Topics, ts)
	}
	if err := p.deliveryState(ctx, recipient, &st); err != nil {
		return State{}, err
	}
	keys := map[string][]string{}
	for _, pr := range prefs {
		if id, ok := inbox.IsSubjectAction(pr.Action); ok && pr.Muted {
			st.Muted = append(st.Muted, MutedSubject{Domain: pr.Domain, SubjectID: id, Channel: pr.Channel, Label: "#" + id,
				ChannelLabel: p.channelLabel(loc, Channel{Name: pr.Channel})})
			keys[pr.Domain] = append(keys[pr.Domain], id)
		}
	}
	if p.cfg.Subjects != nil {
		for domain, ks := range keys {
			names, err := p.cfg.Subjects(ctx, domain, ks)
			if err != nil {
				return State{}, err
			}
			for i := range st.Muted {
				if n := names[st.Muted[i].SubjectID]; st.Muted[i].Domain == domain && n != "" {
					st.Muted[i].Label = n
				}
			}
		}
	}
	return st, nil
}

// mostSpecific is the preference that decides (channel, domain, action),
// as inbox.Defaults.Wanted chooses it (subject rows aside).
func mostSpecific(prefs []inbox.Preference, channel, domain, action string) (inbox.Preference, bool) {
	best, rank := inbox.Preference{}, -1
	for _, pr := range prefs {
		if pr.Domain != domain || (pr.Channel != channel && pr.Channel != inbox.AnyChannel) || (pr.Action != action && pr.Action != inbox.AnyAction) {
			continue
		}
		r := 0
		if pr.Action == action {
			r += 2
		}
		if pr.Channel == channel {
			r++
		}
		if r > rank {
			best, rank = pr, r
		}
	}
	return best, rank >= 0
}

// Change is one change through POST /api: a cell (Action set, On) or a
// subject (SubjectID set, Muted).
type Change struct {
	Domain    string `json:"domain"`
	Action    string `json:"action,omitempty"`
	SubjectID string `json:"subject_id,omitempty"`
	Channel   string `json:"channel"`
	On        *bool  `json:"on,omitempty"`
	Muted     *bool  `json:"muted,omitempty"`
}

// Error is the JSON body of a refused change.
type Error struct {
	Error   string `json:"error"` // "bad_request", "critical", "forbidden"
	Message string `json:"message"`
}

var errBadChange = errors.New("bad change")

// apply validates and applies one change for recipient.
func (p *Page) apply(ctx context.Context, recipient string, c Change) error {
	for name, v := range map[string]string{"domain": c.Domain, "action": c.Action, "subject_id": c.SubjectID, "channel": c.Channel} {
		if len(v) > 200 || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: %s must be valid text without NUL bytes, at most 200 bytes", errBadChange, name)
		}
	}
	anyForSubject := c.Channel == inbox.AnyChannel && c.SubjectID != ""
	if !anyForSubject && !slices.ContainsFunc(p.cfg.Channels, func(ch Channel) bool { return ch.Name == c.Channel }) {
		return fmt.Errorf("%w: channel %q is not on this page; allowed: %s", errBadChange, c.Channel, p.channelNames())
	}
	switch {
	case c.SubjectID != "" && c.Muted != nil && c.Action == "":
		if !slices.ContainsFunc(p.cfg.Topics, func(t Topic) bool { return t.Domain == c.Domain }) {
			return fmt.Errorf("%w: domain %q is not on this page", errBadChange, c.Domain)
		}
		action := inbox.SubjectAction(c.SubjectID)
		if !*c.Muted {
			return inbox.Unmute(ctx, p.cfg.DB, recipient, c.Channel, c.Domain, action)
		}
		return p.cfg.Defaults.Set(ctx, p.cfg.DB, inbox.Preference{Recipient: recipient, Channel: c.Channel, Domain: c.Domain, Action: action, Muted: true})
	case c.Action != "" && c.On != nil && c.SubjectID == "":
		if !slices.ContainsFunc(p.cfg.Topics, func(t Topic) bool { return t.Domain == c.Domain && t.Action == c.Action }) {
			return fmt.Errorf("%w: %s.%s is not a topic of this page", errBadChange, c.Domain, c.Action)
		}
		if _, critical := p.cfg.Defaults.CriticalKind(c.Channel, c.Domain, c.Action); critical && !*c.On {
			return p.cfg.Defaults.Set(ctx, p.cfg.DB, inbox.Preference{Recipient: recipient, Channel: c.Channel, Domain: c.Domain, Action: c.Action, Muted: true})
		}
		// Choosing the default removes the person's row, so a later change
		// of the app's default reaches them; anything else is an override.
		if *c.On == p.cfg.Defaults.DefaultOn(c.Channel, c.Domain, c.Action) {
			prefs, err := inbox.Preferences(ctx, p.cfg.DB, recipient)
			if err != nil {
				return err
			}
			// An AnyAction or AnyChannel row could still decide: keep an
			// explicit row then.
			if best, ok := mostSpecific(prefs, c.Channel, c.Domain, c.Action); !ok || (best.Action == c.Action && best.Channel == c.Channel) {
				return inbox.Unmute(ctx, p.cfg.DB, recipient, c.Channel, c.Domain, c.Action)
			}
		}
		return p.cfg.Defaults.Set(ctx, p.cfg.DB, inbox.Preference{Recipient: recipient, Channel: c.Channel, Domain: c.Domain, Action: c.Action, Muted: !*c.On})
	}
	return fmt.Errorf("%w: give domain, channel and either action with on, or subject_id with muted", errBadChange)
}

func (p *Page) channelNames() string {
	names := make([]string, len(p.cfg.Channels))
	for i, c := range p.cfg.Channels {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Page) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), "preferences: request failed", "path", r.URL.Path, "error", err)
	http.Error(w, "the preferences could not be read or saved just now; try again", http.StatusInternalServerError)
}

func (p *Page) getJSON(w http.ResponseWriter, r *http.Request, recipient string) {
	st, err := p.State(r.Context(), recipient)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (p *Page) postJSON(w http.ResponseWriter, r *http.Request, recipient string) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	var c Change
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		writeJSON(w, http.StatusBadRequest, Error{"bad_request", "the body must be one JSON Change of at most 16 KiB: " + err.Error()})
		return
	}
	if !p.change(w, r, recipient, c) {
		return
	}
	p.getJSON(w, r, recipient)
}

// change applies c and writes the error response if it failed.
func (p *Page) change(w http.ResponseWriter, r *http.Request, recipient string, c Change) bool {
	err := p.apply(r.Context(), recipient, c)
	var ce *inbox.CriticalError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ce):
		writeJSON(w, http.StatusConflict, Error{"critical", err.Error()})
	case errors.Is(err, errBadChange), errors.Is(err, inbox.ErrInvalidConfig):
		writeJSON(w, http.StatusBadRequest, Error{"bad_request", err.Error()})
	default:
		p.fail(w, r, err)
	}
	return false
}

type pageData struct {
	State
	Prefix, Home string
	Flash        string
	words        web.Words
	locale       string
}

// T renders a text of the page in the reader's words.
func (d pageData) T(key string, args ...any) string { return d.words.Text(d.locale, key, args...) }

// ChannelLabel names channel as its column does.
func (d pageData) ChannelLabel(channel string) string {
	for _, c := range d.Channels {
		if c.Name == channel {
			return c.Label
		}
	}
	return channel
}

func (p *Page) show(w http.ResponseWriter, r *http.Request, recipient string) {
	st, err := p.State(r.Context(), recipient)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := pageData{State: st, Prefix: p.cfg.Prefix, Home: p.cfg.Home, words: p.cfg.Words, locale: p.locale(r.Context())}
	switch q := r.URL.Query(); {
	case q.Get("saved") == "1":
		d.Flash = d.T("preferences.saved")
	case q.Get("unsubscribed") != "":
		d.Flash = d.T("preferences.unsubscribed", q.Get("unsubscribed"))
	}
	var buf bytes.Buffer
	if err := p.page.ExecuteTemplate(&buf, "page", d); err != nil {
		p.fail(w, r, err)
		return
	}
	if p.cfg.Theme.Layout == nil {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	}
	p.cfg.Theme.Render(w, r, web.Page{Title: d.T("preferences.title"), Head: p.cfg.Theme.Head(p.cfg.Prefix), Body: template.HTML(buf.String())})
}

// cellField is a checkbox's name: on|channel|domain|action.
func cellField(channel, domain, action string) string {
	return "on|" + channel + "|" + domain + "|" + action
}

func (p *Page) saveForm(w http.ResponseWriter, r *http.Request, recipient string) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, p.cfg.Words.Text(p.locale(r.Context()), "preferences.refused.too_large"), http.StatusBadRequest)
		return
	}
	st, err := p.State(r.Context(), recipient)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	err = p.cfg.DB.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
		inTx := &Page{cfg: p.cfg}
		inTx.cfg.DB = tx
		for _, t := range st.Topics {
			for _, c := range t.Cells {
				if c.Critical {
					continue
				}
				on := r.PostForm.Get(cellField(c.Channel, t.Domain, t.Action)) == "1"
				if on == c.On {
					continue
				}
				if err := inTx.apply(r.Context(), recipient, Change{Domain: t.Domain, Action: t.Action, Channel: c.Channel, On: &on}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/?saved=1", http.StatusSeeOther)
}

func (p *Page) subjectForm(w http.ResponseWriter, r *http.Request, recipient string) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	muted := r.PostFormValue("muted") == "1"
	c := Change{Domain: r.PostFormValue("domain"), SubjectID: r.PostFormValue("subject_id"), Channel: r.PostFormValue("channel"), Muted: &muted}
	if c.SubjectID == "" {
		http.Error(w, "subject_id is required", http.StatusBadRequest)
		return
	}
	if err := p.apply(r.Context(), recipient, c); err != nil {
		if errors.Is(err, errBadChange) || errors.Is(err, inbox.ErrInvalidConfig) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/?saved=1", http.StatusSeeOther)
}
