package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/privacy"
)

// Where the person page and its two actions live.
const (
	personDataPath   = "/me/data"
	personExportPath = "/me/data/export"
	personErasePath  = "/me/data/erase"
)

// fakeDomain is the mail domain of the demo's made-up people: only they
// can be erased here (a real app would ask for more than a click).
const fakeDomain = "@example.com"

// personOf is the signed-in user as a privacy.Person: their key, and the
// strings the library may have copied of them (name, email, Slack handle).
func personOf(u *User) activity.Person {
	return activity.Person{Type: "users", ID: strconv.FormatInt(u.ID, 10)}.WithValues(u.Name, u.Email, u.SlackHandle)
}

// mountPersonData makes the demo's own privacy handlers over the client's
// Privacy (the library's tables and usersPart): export (GET) and erase
// (POST), both for the signed-in user only, and erasure for the demo's
// made-up people only (the client's own DataPath cannot say so).
func (a *App) mountPersonData() error {
	var err error
	authorize := func(r *http.Request, action string) (activity.Person, string, error) {
		if !a.signedIn(r) {
			return activity.Person{}, "", fmt.Errorf("%w: pick who you are first", privacy.ErrForbidden)
		}
		u := a.currentUser(r)
		if u == nil {
			return activity.Person{}, "", privacy.ErrForbidden
		}
		if action == privacy.ActionErase && !strings.HasSuffix(u.Email, fakeDomain) {
			return activity.Person{}, "", fmt.Errorf("%w: only the demo's made-up people can be erased", privacy.ErrForbidden)
		}
		p := personOf(u)
		return p, "users:" + p.ID, nil
	}
	a.dataExport, err = privacy.NewHandler(privacy.HandlerConfig{Privacy: a.client.Privacy(), DB: a.db, Authorize: authorize, Logger: a.fan.logger})
	if err != nil {
		return err
	}
	a.dataErase, err = privacy.NewHandler(privacy.HandlerConfig{Privacy: a.client.Privacy(), DB: a.db, Authorize: authorize, AllowErase: true, Logger: a.fan.logger, Settle: 30 * time.Second,
		AfterErase: func(w http.ResponseWriter, r *http.Request, e privacy.Erasure) {
			http.Redirect(w, r, personDataPath+"?erased="+strconv.FormatInt(e.ID, 10), http.StatusSeeOther)
		}})
	return err
}

// usersPart erases the demo's own copy of the person: the users row keeps
// its ID (issues and comments point at it) and loses name, email and Slack
// handle.
var usersPart = privacy.Part{
	Name: "users",
	Erase: func(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
		res := db.WithContext(ctx).Exec(`UPDATE users SET name = ?, email = 'erased-' || id || '@invalid', slack_handle = '' WHERE id = ?`,
			activity.ErasedLabel, p.ID)
		return activity.Erased{"users": res.RowsAffected}, res.Error
	},
	Export: func(ctx context.Context, db *gorm.DB, p activity.Person, emit func(any) error) error {
		var u User
		if err := db.WithContext(ctx).Take(&u, "id = ?", p.ID).Error; err != nil {
			return err
		}
		return emit(map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "slack_handle": u.SlackHandle, "created_at": u.CreatedAt})
	},
}

type personData struct {
	SignedIn  bool
	Erasable  bool
	ExportURL string
	EraseURL  string
	Erasures  []privacy.Erasure
	ErasedNow int64
	// ErasedLabel and FakeDomain are shown in the page's sentences.
	ErasedLabel, FakeDomain string
}

// personPage shows the signed-in user's data choices: download an export,
// erase (for the demo's made-up people), and the erasures done.
func (a *App) personPage(w http.ResponseWriter, r *http.Request) {
	d := personData{SignedIn: a.signedIn(r), ExportURL: personExportPath, EraseURL: personErasePath,
		ErasedLabel: activity.ErasedLabel, FakeDomain: fakeDomain}
	if u := a.currentUser(r); u != nil && d.SignedIn {
		d.Erasable = strings.HasSuffix(u.Email, fakeDomain)
		var err error
		if d.Erasures, err = privacy.Erasures(r.Context(), a.db, activity.Ref{Type: "users", ID: strconv.FormatInt(u.ID, 10)}); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	d.ErasedNow, _ = strconv.ParseInt(r.URL.Query().Get("erased"), 10, 64)
	a.render(w, r, http.StatusOK, "persondata", "Your data", "data", d)
}
