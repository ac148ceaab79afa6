package sms_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
)

// The package's test world: its own database and Redis database.
var world = addresstest.NewWorld("sms", 12)

var testDB *gorm.DB // world.DB

var phone atomic.Int64 // the last number newNumber gave

func TestMain(m *testing.M) {
	os.Exit(world.Run(m, func() error {
		testDB = world.DB
		phone.Store(time.Now().UnixNano() % 1e6 * 1000)
		return nil
	}))
}

// to is a RecipientsFunc naming the same people for every event.
func to(people ...sms.Recipient) sms.RecipientsFunc {
	return func(context.Context, *gorm.DB, activity.Event) ([]sms.Recipient, error) { return people, nil }
}

// provider is a Twilio provider for peer; callback is the status
// callback URL ("" for none).
func provider(t *testing.T, peer *twiliotest.Server, callback string) *twilio.Provider {
	t.Helper()
	p, err := twilio.New(twilio.Config{AccountSID: peer.AccountSID, AuthToken: peer.AuthToken, From: "+15005550006",
		BaseURL: peer.URL, StatusCallback: callback})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newInbox(t *testing.T, p sms.Provider, cfg sms.Config) *sms.Inbox {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = world.Unique("sms")
	}
	cfg.Provider = p
	if cfg.Logger == nil {
		cfg.Logger = addresstest.Logger()
	}
	in, err := sms.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// newNumber is a phone number no other test uses.
func newNumber() string { return fmt.Sprintf("+1415%07d", phone.Add(1)%1e7) }

// register stores number for recipient in tenant.
func register(t *testing.T, tenant, recipient, number string) {
	t.Helper()
	if _, err := device.Register(activity.WithTenant(context.Background(), tenant), testDB,
		device.Address{Recipient: recipient, Kind: device.Phone, Address: number}); err != nil {
		t.Fatal(err)
	}
}

// numbersOf is the numbers of recipient in tenant.
func numbersOf(t *testing.T, tenant, recipient string) []string {
	t.Helper()
	as, err := device.List(activity.WithTenant(context.Background(), tenant), testDB, recipient, device.Phone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Address)
	}
	return out
}
