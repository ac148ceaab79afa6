package preferences_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/preferences"
)

// Mount the page for the signed-in person: a row per topic, a column per
// channel the app delivers on.
func Example() {
	issues := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "assigned"},
		Specs: map[string]activity.ActionSpec{"assigned": {Doc: "Assigned to you"}}})
	page, err := preferences.New(preferences.Config{
		DB: db, Prefix: "/settings/notifications", Domains: []*activity.Domain{issues},
		Topics:   []preferences.Topic{{Domain: "issue", Action: "comment_added", Label: "Comments"}, {Domain: "issue", Action: "assigned"}},
		Channels: []preferences.Channel{{Name: inbox.ChannelApp}, {Name: inbox.ChannelEmail}},
		Defaults: &inbox.Defaults{Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "assigned"}}},
	})
	if err != nil {
		panic(err)
	}
	identify := func(*http.Request) (web.Identity, error) { // the app's session lookup
		return web.Identity{Person: activity.Ref{Type: "users", ID: "example-7"}}, nil
	}
	h := web.Middleware(identify, nil)(page)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/settings/notifications/api", nil))
	var st preferences.State
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		panic(err)
	}
	for _, t := range st.Topics {
		fmt.Printf("%s:", t.Label)
		for i, c := range t.Cells {
			fmt.Printf(" %s on=%v critical=%v;", st.Channels[i].Label, c.On, c.Critical)
		}
		fmt.Println()
	}
	// Output:
	// Comments: In the app on=true critical=false; Email on=true critical=false;
	// Assigned to you: In the app on=true critical=true; Email on=true critical=true;
}
