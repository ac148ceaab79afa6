package tidings

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/notifycenter"
	"github.com/tidingsdev/tidings/web/operations"
	"github.com/tidingsdev/tidings/web/preferences"
	"github.com/tidingsdev/tidings/web/rules"
)

// Paths of the mounted parts, below Config.Prefix.
const (
	NotificationsPath = "/notifications" // the notification center: JSON API and live stream (in-app inbox only)
	PreferencesPath   = "/preferences"   // the person's notification preferences
	EventsPath        = "/events"        // the event browser (administrators)
	DataPath          = "/me/data"       // the person's data: GET exports, POST erases
	RulesPath         = "/rules"         // the rule editor (administrators; Config.Rules only)
	OperationsPath    = "/operations"    // the operations page (administrators)
)

// webSide holds the mounted parts, made on the first Handler call.
type webSide struct {
	mux     *http.ServeMux
	center  *notifycenter.Center
	ops     *operations.Page
	handler http.Handler
}

// Handler is the web side: every part the library mounts, under
// Config.Prefix, in one http.Handler:
//
//	mux.Handle("/tidings/", client.Handler())
//
// Prefix + NotificationsPath is the notification center (with InApp),
// PreferencesPath the preference page, EventsPath the event browser,
// DataPath the person's data, RulesPath the rule editor (with Rules) and
// OperationsPath the operations page. Config.Identity says who asks, once
// per request (Middleware; a request already through it is not asked
// again); the event browser, the rule editor and the operations page admit
// only an Identity with Admin, and every read is the Identity's tenant's.
func (c *Client) Handler() http.Handler {
	c.webOnce.Do(func() { c.webErr = c.makeWeb() })
	if c.webErr != nil {
		err := c.webErr
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.cfg.Logger.Error("tidings: web side not available", "error", err)
			http.Error(w, "this page is not available: the server's configuration is wrong (see its log)", http.StatusInternalServerError)
		})
	}
	return c.web.handler
}

// identityOf is the request's identity (Middleware put it there).
func identityOf(r *http.Request) web.Identity {
	id, _ := web.IdentityFrom(r.Context())
	return id
}

// ruleHref links a rule's page in the rule editor, "" without one.
func (c *Client) ruleHref(id int64) string {
	if c.rules == nil {
		return ""
	}
	return c.cfg.Prefix + RulesPath + "/" + strconv.FormatInt(id, 10)
}

func (c *Client) makeWeb() error {
	cfg := c.cfg
	p := cfg.Prefix
	mux := http.NewServeMux()
	if c.notify != nil {
		center, err := notifycenter.New(notifycenter.Config{DB: cfg.DB, Redis: c.rdb, Prefix: p + NotificationsPath,
			Describe: cfg.Describe, Words: cfg.Words, StreamOpened: cfg.StreamOpened, Push: cfg.Push, Logger: cfg.Logger,
			RequireTenant: slices.ContainsFunc(cfg.Domains, (*activity.Domain).Tenanted)})
		if err != nil {
			return err
		}
		c.web.center = center
		mux.Handle(p+NotificationsPath+"/", center)
		mux.Handle(p+NotificationsPath, center)
	}
	prefs, err := preferences.New(preferences.Config{DB: cfg.DB, Topics: c.topics(), Channels: c.channels(), Defaults: cfg.Defaults,
		Domains: cfg.Domains, Subjects: c.subjectLabels(), Deliveries: cfg.Deliveries, Home: cfg.Home,
		Prefix: p + PreferencesPath, Theme: cfg.Theme, Words: cfg.Words, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	mux.Handle(p+PreferencesPath+"/", prefs)
	mux.Handle(p+PreferencesPath, prefs)
	browser, err := eventbrowser.New(eventbrowser.Config{DB: cfg.DB, Domains: cfg.Domains, Prefix: p + EventsPath,
		Theme: cfg.Theme, Words: cfg.Words, Rules: c.rules, RuleHref: c.ruleHref, Feed: cfg.Feed, Subjects: subjectsAs[eventbrowser.Subject](cfg.Subjects),
		Home: cfg.Home, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	mux.Handle(p+EventsPath+"/", browser)
	mux.Handle(p+EventsPath, browser)
	data, err := privacy.NewHandler(privacy.HandlerConfig{Privacy: c.privacy, DB: cfg.DB, AllowErase: cfg.Privacy.AllowErase,
		Authorize: ownData, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	mux.Handle(p+DataPath, data)
	if c.rules != nil {
		ed, err := rules.New(rules.Config{DB: cfg.DB, Rules: c.rules, Domains: cfg.Domains, Theme: cfg.Theme, Words: cfg.Words,
			Prefix: p + RulesPath, EventHref: browser.Permalink, Feed: cfg.Feed, Subjects: subjectsAs[rules.Subject](cfg.Subjects),
			People: cfg.People, Now: cfg.Now, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		mux.Handle(p+RulesPath+"/", ed)
		mux.Handle(p+RulesPath, ed)
	}
	ops, err := operations.New(operations.Config{DB: cfg.DB, Redis: c.redisOpt, App: cfg.App, Domains: cfg.Domains,
		Inboxes: c.inboxes, Theme: cfg.Theme, Words: cfg.Words, Prefix: p + OperationsPath, Links: cfg.OperationsLinks,
		EventHref: browser.Permalink, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	c.web.ops = ops
	mux.Handle(p+OperationsPath+"/", ops)
	mux.Handle(p+OperationsPath, ops)
	c.web.mux = mux
	c.web.handler = c.Middleware(mux)
	return nil
}

// subjectsAs adapts Config.Subjects to a page's own subject type; nil
// stays nil (the page's default).
func subjectsAs[S ~struct{ Label, Href string }](f SubjectsFunc) func(context.Context, string, []string) (map[string]S, error) {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, domain string, keys []string) (map[string]S, error) {
		m, err := f(ctx, domain, keys)
		out := make(map[string]S, len(m))
		for k, s := range m {
			out[k] = S(s)
		}
		return out, err
	}
}

// subjectLabels adapts Config.Subjects to the preference page's labels.
func (c *Client) subjectLabels() preferences.SubjectsFunc {
	f := c.cfg.Subjects
	if f == nil {
		return nil
	}
	return func(ctx context.Context, domain string, keys []string) (map[string]string, error) {
		m, err := f(ctx, domain, keys)
		out := make(map[string]string, len(m))
		for k, s := range m {
			out[k] = s.Label
		}
		return out, err
	}
}

// ownData is the data page's authorization: a person's own data only.
func ownData(r *http.Request, _ string) (activity.Person, string, error) {
	id := identityOf(r)
	if !id.SignedIn() {
		return activity.Person{}, "", privacy.ErrForbidden
	}
	p := activity.Person{Type: id.Person.Type, ID: id.Person.ID}.WithValues(id.Label)
	return p, id.Person.String(), nil
}

// topics are the preference page's rows: the actions of the domains the
// in-app inbox accepts.
func (c *Client) topics() []preferences.Topic {
	var accepts inbox.Filter
	if c.cfg.InApp != nil {
		accepts = c.cfg.InApp.Accepts
	}
	var out []preferences.Topic
	for _, d := range c.cfg.Domains {
		for _, a := range d.Actions() {
			if accepts == nil || accepts(d.Name(), a) {
				out = append(out, preferences.Topic{Domain: d.Name(), Action: a})
			}
		}
	}
	return out
}

// channels are the preference page's columns: only the channels the app
// delivers on to a person (the in-app inbox, then each inbox.Channeled of
// Config.Inboxes: email, SMS, web and mobile push), named by Config.Words
// in the reader's language.
func (c *Client) channels() []preferences.Channel {
	var out []preferences.Channel
	if c.notify != nil {
		out = append(out, preferences.Channel{Name: inbox.ChannelApp})
	}
	seen := map[string]bool{inbox.ChannelApp: c.notify != nil}
	for _, in := range c.cfg.Inboxes {
		if ch, ok := in.(inbox.Channeled); ok && !seen[ch.Channel()] {
			seen[ch.Channel()] = true
			out = append(out, preferences.Channel{Name: ch.Channel()})
		}
	}
	return out
}

type passedKey struct{}

// Middleware asks Config.Identity who the request is, once, and puts the
// answer on its context for every mounted page (web.IdentityFrom) and for
// recording: the person is the actor of the events recorded in the
// request (with the request id, IP address and user agent), the tenant
// their tenant. Wrap the app's whole mux in it:
//
//	http.ListenAndServe(addr, client.Middleware(mux))
func (c *Client) Middleware(next http.Handler) http.Handler {
	record := activity.Middleware(activity.MiddlewareConfig{
		Actor: func(r *http.Request) any {
			if id := identityOf(r); id.SignedIn() {
				ref := id.Person
				if ref.Label == "" {
					ref.Label = id.Label
				}
				return ref
			}
			return nil
		},
		Tenant: func(r *http.Request) any { return identityOf(r).Tenant },
	})
	inner := record(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), passedKey{}, true)))
	}))
	identify := web.Middleware(c.cfg.Identity, c.cfg.Logger)(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(passedKey{}) != nil { // the app's mux went through it already
			next.ServeHTTP(w, r)
			return
		}
		identify.ServeHTTP(w, r)
	})
}
