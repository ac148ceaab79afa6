package tidings_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/web"
)

// The preference page has a column for each channel the app delivers on
// to a person (the in-app inbox, then each inbox.Channeled it runs: here
// SMS), and none for a channel it does not run (email).
func TestPreferencePageShowsEachChannelItDeliversOn(t *testing.T) {
	peer := twiliotest.Start(t)
	p, err := twilio.New(twilio.Config{AccountSID: peer.AccountSID, AuthToken: peer.AuthToken, From: "+15005550006", BaseURL: peer.URL})
	if err != nil {
		t.Fatal(err)
	}
	texts, err := sms.NewInbox(sms.Config{Provider: p, Logger: addresstest.Logger(),
		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]sms.Recipient, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var _ inbox.Channeled = texts
	r := redistest.NewPrivate(t)
	cfg := config(t, r.Addr())
	cfg.Inboxes = []inbox.Inbox{texts}
	c, err := tidings.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := httptest.NewRequest("GET", "/tidings/preferences/", nil)
	ana := web.Identity{Person: activity.Ref{Type: "users", ID: "1"}, Tenant: int64(1)}
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, req.WithContext(web.WithIdentity(req.Context(), ana)))
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("preferences: %d %.300s", rec.Code, body)
	}
	for _, want := range []string{">In the app<", ">SMS<"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s column:\n%.2000s", want, body)
		}
	}
	if strings.Contains(body, ">Email<") {
		t.Errorf("an Email column for an app with no email inbox:\n%.2000s", body)
	}
}
