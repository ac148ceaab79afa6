package eventbrowser_test

import (
	"fmt"
	"net/http"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/feedview"
)

// Mount the browser for admins, with the app's sentences.
func ExampleNew() {
	identify := func(r *http.Request) (web.Identity, error) { // the app's session lookup
		return web.Identity{Person: activity.Ref{Type: "users", ID: "7"}, Admin: r.Header.Get("X-Admin") == "yes"}, nil
	}
	browser, err := eventbrowser.New(eventbrowser.Config{
		DB: db, Domains: []*activity.Domain{issues}, Prefix: "/admin/events", Identity: identify,
		Feed: feedview.New(feedview.Config{Actions: map[string]feedview.Action{
			"comment_added": {Verb: "commented", Detail: feedview.RecordLabel},
		}}),
	})
	if err != nil {
		panic(err)
	}
	http.NewServeMux().Handle("/admin/events/", browser)
	fmt.Println(browser.Permalink(activity.EventRef{Domain: "issue", ID: 42}))
	// Output: /admin/events/issue/42
}
