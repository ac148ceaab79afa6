package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/operations"
	"github.com/tidingsdev/tidings/web/rules"
)

// Where the demo mounts the rule editor and the operations page.
const (
	rulesPrefix = "/rules"
	opsPrefix   = "/monitoring"
)

// identity answers "who is this request" for the library's pages: the
// current user (loaded once per request by withUser; without a session,
// the first user, as on every page of the demo), their organisation, and
// whether they administer it: the demo has no roles, so anyone with a
// session does (without one, the event browser refuses).
func (a *App) identity(r *http.Request) (web.Identity, error) {
	u := a.currentUser(r)
	if u == nil {
		return web.Identity{}, nil
	}
	c, err := r.Cookie(userCookie)
	session := err == nil && c.Value == strconv.FormatInt(u.ID, 10)
	return web.Identity{Person: activity.Ref{Type: "users", ID: strconv.FormatInt(u.ID, 10), Label: u.Name}, Label: u.Name,
		Tenant: u.OrgID, Admin: session, Locale: u.Locale}, nil
}

// layout wraps a mounted page in the demo's own layout (header, switcher,
// navigation with nav highlighted).
func (a *App) layout(nav string) web.Layout {
	return func(w http.ResponseWriter, r *http.Request, p web.Page) {
		a.render(w, r, p.Status, "mounted", p.Title, nav, p)
	}
}

// mountAdminPages makes the rule editor and the operations page.
func (a *App) mountAdminPages() error {
	var err error
	a.ruleEditor, err = rules.New(rules.Config{
		DB: a.db, Rules: a.rules, Domains: []*activity.Domain{a.issues}, Prefix: rulesPrefix,
		Identity: a.identity, Theme: web.Theme{Layout: a.layout("rules")}, Words: web.Words{Catalog: a.fan.catalog},
		Feed: a.feedr, EventHref: a.browser.Permalink, People: a.whoName, Now: a.cfg.Now, Logger: a.fan.logger,
		Subjects: func(ctx context.Context, _ string, ids []string) (map[string]rules.Subject, error) {
			titles, err := a.titlesOf(ctx, parseIDs(ids))
			out := make(map[string]rules.Subject, len(titles))
			for id, t := range titles {
				out[id] = rules.Subject{Label: t, Href: "/issues/" + id}
			}
			return out, err
		},
	})
	if err != nil {
		return err
	}
	a.ops, err = operations.New(operations.Config{
		DB: a.db, Redis: a.fan.redisOpt, App: a.cfg.App, Domains: []*activity.Domain{a.issues}, Inboxes: a.fan.inboxes, Prefix: opsPrefix,
		Identity: a.identity, Theme: web.Theme{Layout: a.layout("monitoring")}, EventHref: a.browser.Permalink,
		Links: []operations.Link{{Label: "Prometheus metrics", Href: "/metrics"}, {Label: "health (JSON)", Href: "/healthz"}},
		Now:   a.cfg.Now, Logger: a.fan.logger,
	})
	return err
}

// whoName names who saved a rule: "users:3" is that user's name; the
// demo's code ("app:demo") says so.
func (a *App) whoName(ctx context.Context, by string) string {
	if id, ok := strings.CutPrefix(by, "users:"); ok {
		var u User
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && a.db.WithContext(ctx).Take(&u, n).Error == nil {
			return u.Name
		}
	}
	if by == "app:demo" {
		return "the demo's code"
	}
	return ""
}
