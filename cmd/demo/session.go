package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// userCookie holds the signed-in user's id. The demo has no passwords: the
// switcher sets it.
const userCookie = "tidings_demo_user"

type userKey struct{}

// currentUser returns the user the cookie names, or the first user. It is
// loaded once per request (the middleware and the pages share it).
func (a *App) currentUser(r *http.Request) *User {
	if u, ok := r.Context().Value(userKey{}).(*User); ok {
		return u
	}
	var u User
	q := a.db.WithContext(r.Context())
	if c, err := r.Cookie(userCookie); err == nil {
		if id, err := strconv.ParseInt(c.Value, 10, 64); err == nil && q.Take(&u, id).Error == nil {
			return &u
		}
	}
	if q.Order("id").Take(&u).Error != nil {
		return nil
	}
	return &u
}

// withUser loads the current user once and keeps it on the request.
func (a *App) withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := a.currentUser(r); u != nil {
			r = r.WithContext(contextWith(r.Context(), userKey{}, u))
		}
		next.ServeHTTP(w, r)
	})
}

// orgOf returns the organisation the request acts in: the tenant the
// middleware set from the signed-in person (0, matching nothing, without).
func orgOf(ctx context.Context) int64 {
	switch t, _ := activity.TenantFrom(ctx); t := t.(type) {
	case int64:
		return t
	case string: // a job's tenant, as events carry it
		id, _ := strconv.ParseInt(t, 10, 64)
		return id
	}
	return 0
}

// inOrg is a query on the demo's organisation-owned tables (users,
// projects, issues, comment_imports) scoped to the request's organisation:
// every page reads them through it, so nothing of another organisation
// shows. It can be reused for several queries.
func (a *App) inOrg(ctx context.Context) *gorm.DB {
	return a.db.WithContext(ctx).Where("org_id = ?", orgOf(ctx)).Session(&gorm.Session{})
}

// orgPeople is one organisation's people in the user switcher.
type orgPeople struct {
	Name   string
	People []User
}

// switcherPeople lists everyone by organisation: the demo has no
// passwords, and picking a person of another organisation switches to it.
func (a *App) switcherPeople(ctx context.Context) ([]orgPeople, error) {
	var orgs []Organisation
	if err := a.db.WithContext(ctx).Order("id").Find(&orgs).Error; err != nil {
		return nil, err
	}
	var users []User
	if err := a.db.WithContext(ctx).Order("id").Find(&users).Error; err != nil {
		return nil, err
	}
	out := make([]orgPeople, len(orgs))
	for i, o := range orgs {
		out[i].Name = o.Name
		for _, u := range users {
			if u.OrgID == o.ID {
				out[i].People = append(out[i].People, u)
			}
		}
	}
	return out, nil
}

// switchUser sets the user cookie and goes back where the form was.
func (a *App) switchUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.FormValue("user_id"), 10, 64)
	var u User
	if err != nil || a.db.WithContext(r.Context()).Take(&u, id).Error != nil {
		http.Error(w, "unknown user: pick one of the switcher's users", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: strconv.FormatInt(u.ID, 10), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.FormValue("back")), http.StatusSeeOther)
}

// localPath returns p when it is a path on this site, else "/": the
// switcher must not redirect elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}
