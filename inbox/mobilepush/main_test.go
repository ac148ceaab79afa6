package mobilepush_test

import (
	"context"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
)

// The package's test world: its own database and Redis database.
var world = addresstest.NewWorld("mobilepush", 11)

var testDB *gorm.DB // world.DB

func TestMain(m *testing.M) {
	os.Exit(world.Run(m, func() error { testDB = world.DB; return nil }))
}

// to is a RecipientsFunc naming the same people for every event.
func to(people ...mobilepush.Recipient) mobilepush.RecipientsFunc {
	return func(context.Context, *gorm.DB, activity.Event) ([]mobilepush.Recipient, error) { return people, nil }
}

func newInbox(t *testing.T, p mobilepush.Provider, cfg mobilepush.Config) *mobilepush.Inbox {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = world.Unique(p.Name())
	}
	cfg.Provider = p
	if cfg.Logger == nil {
		cfg.Logger = addresstest.Logger()
	}
	in, err := mobilepush.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// register stores a device token of kind for recipient in tenant.
func register(t *testing.T, tenant, recipient string, kind device.Kind, token string) {
	t.Helper()
	if _, err := device.Register(activity.WithTenant(context.Background(), tenant), testDB,
		device.Address{Recipient: recipient, Kind: kind, Address: token}); err != nil {
		t.Fatal(err)
	}
}
