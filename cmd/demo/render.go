package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/feedview"
)

//go:embed web/templates/*.html
var templateFiles embed.FS

//go:embed web/static
var staticFiles embed.FS

// page is what every page's template gets: the signed-in user, the users
// to switch to, and the page's own data.
type page struct {
	Title  string
	Me     *User
	Users  []User      // the signed-in person's organisation's people (assignees)
	Orgs   []orgPeople // everyone, by organisation: the switcher (switching user switches organisation)
	Path   string      // the request's path and query, to come back to
	Nav    string      // the highlighted section
	Unread int64       // the signed-in user's unread notifications
	Data   any
	Head   template.HTML // a mounted page's stylesheet links
}

// parsePages parses each page template with the layout and the partials.
func (a *App) parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"ago":    func(t time.Time) string { return feedview.Ago(a.cfg.Now(), t) },
		"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"stamp":  func(t time.Time) string { return t.Local().Format("2 Jan 2006 15:04:05 MST") },
		"status": statusName,
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"prettyJSON": prettyJSON,
		"add":        func(a, b int) int { return a + b },
		"args": func(d notificationsData, id int64, op, label string) map[string]any {
			return map[string]any{"D": d, "ID": id, "Op": op, "Label": label}
		},
	}
	entries, err := fs.Glob(templateFiles, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	var shared, pages []string
	for _, e := range entries {
		if strings.HasPrefix(e, "web/templates/_") {
			shared = append(shared, e)
		} else {
			pages = append(pages, e)
		}
	}
	out := make(map[string]*template.Template, len(pages))
	for _, p := range pages {
		t, err := template.New("").Funcs(funcs).ParseFS(templateFiles, append(append([]string{}, shared...), p)...)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "web/templates/"), ".html")
		out[name] = t
	}
	return out, nil
}

// render executes a page into a buffer first, so a template error becomes
// a 500 rather than half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	p := page{Title: title, Me: a.currentUser(r), Path: r.URL.RequestURI(), Nav: nav, Data: data}
	if m, ok := data.(web.Page); ok {
		p.Head = m.Head
	}
	var err error
	if p.Orgs, err = a.switcherPeople(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.inOrg(r.Context()).Order("id").Find(&p.Users).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	if p.Me != nil {
		n, err := notify.UnreadCount(r.Context(), a.db, strconv.FormatInt(p.Me.ID, 10))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		p.Unread = n
	}
	a.execute(w, status, name, "layout", p)
}

// renderFragment executes one named template of a page, for "load more".
func (a *App) renderFragment(w http.ResponseWriter, r *http.Request, name, tmpl string, data any) {
	a.execute(w, http.StatusOK, name, tmpl, data)
}

func (a *App) execute(w http.ResponseWriter, status int, name, tmpl string, data any) {
	t, ok := a.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, data); err != nil {
		a.cfg.Log("render %s: %v", name, err)
		http.Error(w, "could not render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders an unexpected error.
func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.cfg.Log("%s %s: %v", r.Method, r.URL.Path, err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// notFound renders a 404 page.
func (a *App) notFound(w http.ResponseWriter, r *http.Request, what string) {
	a.render(w, r, http.StatusNotFound, "error", "Not found", "", map[string]string{"Message": what + " does not exist."})
}

func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
