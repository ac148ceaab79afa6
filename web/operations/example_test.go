package operations_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/operations"
)

// Mount the page for admins; everyone else is refused.
func Example() {
	ops, err := operations.New(operations.Config{DB: db, Redis: rconn, Domains: []*activity.Domain{issues}, Prefix: "/admin/operations",
		Links: []operations.Link{{Label: "Metrics", Href: "/metrics"}}, Logger: quiet()})
	if err != nil {
		panic(err)
	}
	defer ops.Close()
	identify := func(r *http.Request) (web.Identity, error) {
		user := r.URL.Query().Get("user") // the app's session lookup
		if user == "" {
			return web.Identity{}, nil // nobody signed in
		}
		return web.Identity{Person: activity.Ref{Type: "users", ID: user}, Admin: user == "1"}, nil
	}
	h := web.Middleware(identify, nil)(ops)
	for _, user := range []string{"", "2", "1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/operations/?user="+user, nil))
		fmt.Printf("user %q: %d\n", user, rec.Code)
	}
	// Output:
	// user "": 401
	// user "2": 403
	// user "1": 200
}
