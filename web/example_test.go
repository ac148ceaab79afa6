package web_test

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
)

// An app says who asks once, in middleware, and wraps mounted pages in
// its own layout template.
func Example() {
	lookups := 0
	identify := func(r *http.Request) (web.Identity, error) {
		lookups++ // the app's session lookup
		return web.Identity{Person: activity.Ref{Type: "users", ID: "7"}, Label: "Ana", Tenant: int64(1), Admin: true}, nil
	}
	appLayout := template.Must(template.New("app").Parse(
		`<html><head>{{.Head}}</head><body><header>My app</header>{{.Body}}</body></html>`))
	theme := web.Theme{Layout: web.TemplateLayout(appLayout, "app"), Stylesheet: "/static/app.css"}

	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := web.Identify(r, identify) // already on the context: no second lookup
		theme.Render(w, r, web.Page{Title: "Hello", Head: theme.Head("/tidings"), Body: template.HTML("<p>Hello, " + template.HTMLEscapeString(id.Label) + "</p>")})
	})
	h := web.Middleware(identify, nil)(page)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/tidings/hello", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), "lookups:", lookups)
	fmt.Println(rec.Body.String())
	// Output:
	// 200 text/html; charset=utf-8 lookups: 1
	// <html><head><link rel="stylesheet" href="/tidings/tidings.css">
	// <link rel="stylesheet" href="/static/app.css">
	// </head><body><header>My app</header><div class="tidings">
	// <p>Hello, Ana</p>
	// </div></body></html>
}
