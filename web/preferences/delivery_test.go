package preferences_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web/preferences"
)

// Each person picks, per channel, immediately or a daily digest; the
// choice is stored with the preferences and read back by the inboxes.
func TestDeliveryRow(t *testing.T) {
	daily := inbox.BatchedOn(inbox.DailyAt(8, 0))
	p, err := preferences.New(preferences.Config{DB: db, Defaults: defaults, Prefix: "/prefs", Recipient: byHeader,
		Topics:     []preferences.Topic{{Domain: "issue", Action: "comment_added", Label: "Comments"}},
		Channels:   []preferences.Channel{{Name: inbox.ChannelApp}, {Name: inbox.ChannelEmail}},
		Deliveries: []preferences.DeliveryOption{{Label: "Immediately", Choice: inbox.ImmediateChoice}, {Label: "Daily digest at 08:00", Choice: daily}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	u := srv.URL + "/prefs"
	code, body := call(t, "GET", u+"/", "dee", "", "")
	if code != 200 || !strings.Contains(body, `name="delivery|email|issue"`) || !strings.Contains(body, `<option value="immediate" selected>Immediately</option>`) {
		t.Fatalf("page: %d\n%s", code, body)
	}
	form := url.Values{"delivery|email|issue": {daily.String()}}
	if code, _ := call(t, "POST", u+"/delivery", "dee", "application/x-www-form-urlencoded", form.Encode()); code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	c, err := defaults.Choices(context.Background(), db, inbox.ChannelEmail, "issue", "comment_added", "1", []string{"dee"})
	if err != nil || c["dee"] != daily {
		t.Fatalf("dee's email choice %v %v, want %s", c, err, daily)
	}
	st := state(t, u, "dee")
	for _, d := range st.Delivery {
		if d.Channel == inbox.ChannelEmail && (d.Choice != daily.String() || !d.Chosen) {
			t.Errorf("state %+v", d)
		}
		if d.Channel == inbox.ChannelApp && (d.Choice != "immediate" || d.Chosen) {
			t.Errorf("state %+v", d)
		}
	}
	// Only the page's own choices are accepted.
	for _, bad := range []string{"weekly@1@08:00", "off", "daily@08:00\x00"} {
		form := url.Values{"delivery|email|issue": {bad}}
		if code, _ := call(t, "POST", u+"/delivery", "dee", "application/x-www-form-urlencoded", form.Encode()); code != http.StatusBadRequest {
			t.Errorf("delivery %q: %d, want 400", bad, code)
		}
	}
	if _, err := preferences.New(preferences.Config{DB: db, Topics: []preferences.Topic{{Domain: "issue", Action: "x"}},
		Deliveries: []preferences.DeliveryOption{{Label: "Never", Choice: inbox.OffChoice}}}); err == nil {
		t.Error("an off delivery option was accepted")
	}
}
