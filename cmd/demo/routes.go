package main

import (
	"io/fs"
	"net/http"
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
	mux.HandleFunc("GET /projects/{id}", a.projectFeed)
	mux.HandleFunc("GET /users/{id}", a.userFeed)
	mux.HandleFunc("GET /events", a.eventBrowser)
	mux.HandleFunc("GET /events/{id}", a.showEvent)
	mux.HandleFunc("POST /session", a.switchUser)
	mux.HandleFunc("GET /notifications", a.listNotifications)
	mux.HandleFunc("GET /notifications/stream", a.notificationStream)
	mux.HandleFunc("POST /notifications/{id}/read", a.markRead)
	mux.HandleFunc("POST /notifications/read", a.markAllRead)
	mux.HandleFunc("GET /dev/mail", a.devMailbox)
	mux.HandleFunc("GET /dev/slack", a.devSlack)
	if a.fan.unsubscribe != nil {
		mux.Handle("/unsubscribe", a.fan.unsubscribe)
	}
	mux.HandleFunc("GET /rules", a.listRules)
	mux.HandleFunc("GET /rules/new", a.newRule)
	mux.HandleFunc("POST /rules/new", a.saveRule)
	mux.HandleFunc("GET /rules/{id}", a.showRule)
	mux.HandleFunc("GET /rules/{id}/edit", a.editRule)
	mux.HandleFunc("POST /rules/{id}/edit", a.saveRule)
	mux.HandleFunc("POST /rules/{id}/toggle", a.toggleRule)
	mux.HandleFunc("POST /rules/{id}/delete", a.deleteRule)
	mux.HandleFunc("GET /monitoring", a.monitoring)
	mux.HandleFunc("POST /monitoring/run", a.runTask)
	mux.HandleFunc("POST /monitoring/redrive", a.redrive)
	a.historyRoutes(mux)
	static, _ := fs.Sub(staticFiles, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	a.mux = mux
}
