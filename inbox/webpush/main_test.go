package webpush_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/webpush"
	"github.com/tidingsdev/tidings/inbox/webpush/webpushtest"
)

// The package's test world: its own database and Redis database.
var world = addresstest.NewWorld("webpush", 13)

var testDB *gorm.DB // world.DB

// The app's VAPID key pair, which the peer's subscriptions are made with.
var vapidPublic, vapidPrivate string

func TestMain(m *testing.M) {
	os.Exit(world.Run(m, func() (err error) {
		testDB = world.DB
		vapidPublic, vapidPrivate, err = webpush.GenerateVAPIDKeys()
		return err
	}))
}

func vapid(t *testing.T) *webpush.VAPID {
	t.Helper()
	v, err := webpush.NewVAPID(webpush.VAPIDConfig{PublicKey: vapidPublic, PrivateKey: vapidPrivate, Subject: "mailto:ops@tidings.test"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// to is a RecipientsFunc naming the same people for every event.
func to(people ...webpush.Recipient) webpush.RecipientsFunc {
	return func(context.Context, *gorm.DB, activity.Event) ([]webpush.Recipient, error) { return people, nil }
}

func newInbox(t *testing.T, peer *webpushtest.Server, cfg webpush.Config) *webpush.Inbox {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = world.Unique("webpush")
	}
	if cfg.VAPID == nil {
		cfg.VAPID = vapid(t)
	}
	cfg.Client = peer.Client()
	if cfg.Logger == nil {
		cfg.Logger = addresstest.Logger()
	}
	in, err := webpush.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// subscribe makes a browser subscription at the peer and registers it for
// recipient in tenant.
func subscribe(t *testing.T, peer *webpushtest.Server, tenant, recipient string) (id string, a device.Address) {
	t.Helper()
	id = world.Unique("browser")
	a, err := device.Register(activity.WithTenant(context.Background(), tenant), testDB, peer.Subscribe(t, recipient, id))
	if err != nil {
		t.Fatal(err)
	}
	return id, a
}

// message decodes a push's decrypted text.
func message(t *testing.T, p webpushtest.Push) webpush.Message {
	t.Helper()
	var m webpush.Message
	if err := json.Unmarshal([]byte(p.Text), &m); err != nil {
		t.Fatalf("push to %s (status %d, error %q): text %q is not a message: %v", p.Sub, p.Status, p.Error, p.Text, err)
	}
	return m
}
