package preferences_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/web/preferences"
)

var db *gorm.DB

func TestMain(m *testing.M) {
	var err error
	if db, err = pgtest.Create(context.Background(), "tidings_test_preferences"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

var defaults = &inbox.Defaults{
	Off:      []inbox.Kind{{Channel: inbox.ChannelEmail, Domain: "issue", Action: "label_added"}},
	Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "security_alert"}},
}

func server(t *testing.T, recipient preferences.RecipientFunc) string {
	t.Helper()
	p, err := preferences.New(preferences.Config{DB: db, Defaults: defaults, Prefix: "/prefs", Recipient: recipient,
		Channels: []preferences.Channel{{Name: inbox.ChannelApp, Label: "In the app"}, {Name: inbox.ChannelEmail, Label: "Email"}},
		Topics: []preferences.Topic{
			{Domain: "issue", Action: "comment_added", Label: "Comments"},
			{Domain: "issue", Action: "label_added", Label: "Labels"},
			{Domain: "issue", Action: "security_alert", Label: "Security <alerts>"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL + "/prefs"
}

func byHeader(r *http.Request) (string, bool) { u := r.Header.Get("X-User"); return u, u != "" }

func call(t *testing.T, method, u, user, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("X-User", user)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func cell(t *testing.T, st preferences.State, action, channel string) preferences.Cell {
	t.Helper()
	for _, tp := range st.Topics {
		if tp.Action == action {
			for _, c := range tp.Cells {
				if c.Channel == channel {
					return c
				}
			}
		}
	}
	t.Fatalf("no cell %s/%s", action, channel)
	return preferences.Cell{}
}

func state(t *testing.T, u, user string) preferences.State {
	t.Helper()
	code, body := call(t, "GET", u+"/api", user, "", "")
	var st preferences.State
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET /api: %d %s", code, body)
	}
	return st
}

// Defaults versus overrides, critical kinds locked on, subject mutes, and
// the default hook refusing everything.
func TestPreferencePage(t *testing.T) {
	if code, _ := call(t, "GET", server(t, nil)+"/", "ana", "", ""); code != http.StatusForbidden {
		t.Errorf("without Recipient: %d, want 403", code)
	}
	u := server(t, byHeader)
	if code, _ := call(t, "GET", u+"/api", "", "", ""); code != http.StatusForbidden {
		t.Errorf("anonymous: %d, want 403", code)
	}
	st := state(t, u, "ana")
	if c := cell(t, st, "label_added", inbox.ChannelEmail); c.On || c.Default || c.Overridden {
		t.Errorf("label mail for someone who chose nothing: %+v, want off by default", c)
	}
	if c := cell(t, st, "comment_added", inbox.ChannelEmail); !c.On || !c.Default {
		t.Errorf("comment mail: %+v, want on by default", c)
	}
	if c := cell(t, st, "security_alert", inbox.ChannelApp); !c.On || !c.Critical {
		t.Errorf("security alerts: %+v, want critical and on", c)
	}
	// Overrides through the API.
	code, body := call(t, "POST", u+"/api", "ana", "application/json", `{"domain":"issue","action":"label_added","channel":"email","on":true}`)
	if code != 200 {
		t.Fatalf("turn label mail on: %d %s", code, body)
	}
	st = state(t, u, "ana")
	if c := cell(t, st, "label_added", inbox.ChannelEmail); !c.On || !c.Overridden {
		t.Errorf("after turning it on: %+v", c)
	}
	if got, _ := defaults.Wanted(context.Background(), db, inbox.ChannelEmail, "issue", "label_added", "1", []string{"ana", "bo"}); len(got) != 1 || got[0] != "ana" {
		t.Errorf("label mail reaches %v, want ana alone (her override; bo has the default)", got)
	}
	// Back to the default removes her row.
	call(t, "POST", u+"/api", "ana", "application/json", `{"domain":"issue","action":"label_added","channel":"email","on":false}`)
	if c := cell(t, state(t, u, "ana"), "label_added", inbox.ChannelEmail); c.On || c.Overridden {
		t.Errorf("after choosing the default again: %+v, want the default, not an override", c)
	}
	// A critical kind cannot be turned off.
	code, body = call(t, "POST", u+"/api", "ana", "application/json", `{"domain":"issue","action":"security_alert","channel":"app","on":false}`)
	if code != http.StatusConflict || !strings.Contains(body, "critical") {
		t.Errorf("turning a critical kind off: %d %s, want 409 critical", code, body)
	}
	// Bad changes say what is allowed.
	for _, bad := range []string{`{"domain":"issue","action":"label_added","channel":"sms","on":true}`, `{"domain":"issue","action":"nope","channel":"email","on":true}`,
		`{"domain":"issue","channel":"email"}`, `{"domain":"issue\u0000","action":"label_added","channel":"email","on":true}`, `not json`, `{"extra":1}`} {
		if code, body := call(t, "POST", u+"/api", "ana", "application/json", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", bad, code, body)
		}
	}
	// The HTML form: unchecking comment mail saves an override; the
	// critical checkbox is locked.
	code, body = call(t, "GET", u+"/", "bo", "", "")
	if code != 200 || !strings.Contains(body, "Security &lt;alerts&gt;") || !strings.Contains(body, "checked disabled") {
		t.Fatalf("page: %d\n%s", code, body)
	}
	form := url.Values{"on|app|issue|comment_added": {"1"}, "on|app|issue|label_added": {"1"}}
	code, _ = call(t, "POST", u+"/", "bo", "application/x-www-form-urlencoded", form.Encode())
	if code != http.StatusSeeOther {
		t.Fatalf("form post: %d, want 303", code)
	}
	st = state(t, u, "bo")
	if c := cell(t, st, "comment_added", inbox.ChannelEmail); c.On || !c.Overridden {
		t.Errorf("bo unchecked comment mail: %+v", c)
	}
	if c := cell(t, st, "comment_added", inbox.ChannelApp); !c.On || c.Overridden {
		t.Errorf("bo kept comments in the app: %+v", c)
	}
	// A muted subject is listed and can be unmuted from the page.
	if err := inbox.Mute(context.Background(), db, "bo", inbox.ChannelEmail, "issue", inbox.SubjectAction("42")); err != nil {
		t.Fatal(err)
	}
	if st := state(t, u, "bo"); len(st.Muted) != 1 || st.Muted[0].SubjectID != "42" {
		t.Fatalf("muted subjects %+v", st.Muted)
	}
	code, _ = call(t, "POST", u+"/subjects", "bo", "application/x-www-form-urlencoded", "domain=issue&subject_id=42&channel=email&muted=0")
	if st := state(t, u, "bo"); code != http.StatusSeeOther || len(st.Muted) != 0 {
		t.Errorf("unmute: %d, muted %+v", code, st.Muted)
	}
}
