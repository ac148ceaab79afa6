package main

import (
	"io/fs"
	"net/http"
	"net/url"
)

func (a *App) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.listIssues)
	mux.HandleFunc("POST /issues", a.createIssue)
	mux.HandleFunc("GET /issues/{id}", a.showIssue)
	mux.HandleFunc("GET /issues/{id}/feed", a.issueFeed)
	mux.HandleFunc("POST /issues/{id}/comments", a.addComment)
	mux.HandleFunc("POST /issues/{id}/comments/{cid}/delete", a.deleteComment)
	mux.HandleFunc("POST /issues/{id}/labels", a.addLabel)
	mux.HandleFunc("POST /issues/{id}/labels/{lid}/delete", a.removeLabel)
	mux.HandleFunc("POST /issues/{id}/assignee", a.assign)
	mux.HandleFunc("POST /issues/{id}/status", a.setStatus)
	mux.HandleFunc("POST /issues/{id}/delete", a.deleteIssue)
	mux.HandleFunc("GET /projects/{id}", a.projectFeed)
	mux.HandleFunc("GET /users/{id}", a.userFeed)
	mux.HandleFunc("GET "+personDataPath, a.personPage)
	mux.Handle("GET "+personExportPath, a.dataExport)
	mux.Handle("POST "+personErasePath, a.dataErase)
	// The library's pages (the notification center, preferences, the
	// event browser, the rule editor, the operations page), in one
	// handler; old event links redirect.
	mux.Handle(tidingsPrefix+"/", a.client.Handler())
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, eventsPrefix+"/?"+r.URL.RawQuery, http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /events/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, eventsPrefix+"/issue/"+url.PathEscape(r.PathValue("id")), http.StatusMovedPermanently)
	})
	mux.HandleFunc("POST /session", a.switchUser)
	mux.HandleFunc("GET /notifications", a.listNotifications)
	mux.HandleFunc("GET /dev/mail", a.devMailbox)
	mux.HandleFunc("GET /dev/slack", a.devSlack)
	mux.HandleFunc("GET /dev/channels", a.devChannels)
	if a.fan.unsubscribe != nil {
		mux.Handle("/unsubscribe", a.fan.unsubscribe)
	}
	mux.Handle("GET /metrics", a.tel.metricsHandler())
	mux.Handle("GET /healthz", a.tel.health)
	a.historyRoutes(mux)
	static, _ := fs.Sub(staticFiles, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	a.mux = mux
}
