package main

import (
	"net/http"
	"strconv"
	"strings"
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
