package main

import (
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/webpush"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// inboxWebPush is the web push inbox's name (task IDs, ledger rows).
const inboxWebPush = "webpush"

// vapidSubject is the contact the demo gives push services.
const vapidSubject = "mailto:notify@tidings-demo.localhost"

// vapidKeys are the demo's VAPID key pair: -vapid-public and
// -vapid-private, or, without them, a pair derived from the secret, the
// same for every process of one demo and across restarts (browsers'
// subscriptions are bound to the public key). A dev default, as the
// secret's is.
func (c Config) vapidKeys() (public, private string, err error) {
	if c.VAPIDPublic != "" || c.VAPIDPrivate != "" {
		return c.VAPIDPublic, c.VAPIDPrivate, nil
	}
	seed := sha256.Sum256(append([]byte("tidings-demo vapid\x00"), c.Secret...))
	k, err := ecdh.P256().NewPrivateKey(seed[:])
	if err != nil {
		return "", "", fmt.Errorf("derive the VAPID key from the secret: %w (give -vapid-public and -vapid-private)", err)
	}
	return base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(k.Bytes()), nil
}

// newWebPush makes the web push inbox (every process builds it; the
// worker runs it) and the notification center's push configuration
// (tidings.Config.Push: "notify me on this browser" on /notifications).
func (a *App) newWebPush() (*webpush.Inbox, *notifycenter.PushConfig, error) {
	public, private, err := a.cfg.vapidKeys()
	if err != nil {
		return nil, nil, err
	}
	vapid, err := webpush.NewVAPID(webpush.VAPIDConfig{PublicKey: public, PrivateKey: private, Subject: vapidSubject, Now: a.cfg.Now})
	if err != nil {
		return nil, nil, err
	}
	in, err := webpush.NewInbox(webpush.Config{Name: inboxWebPush, Accepts: quietFilter(a.issues), Recipients: a.pushRecipients,
		Defaults: a.defaults, VAPID: vapid, Client: a.cfg.pushClient, Catalog: a.fan.catalog, Logger: a.fan.logger, Now: a.cfg.Now,
		URL: func(ev activity.Event) string { return "/issues/" + ev.SubjectID }})
	if err != nil {
		return nil, nil, err
	}
	return in, &notifycenter.PushConfig{PublicKey: vapid.PublicKey(), OpenURL: "/notifications"}, nil
}

// pushRecipients are the issue's subscribers, in their language and time
// zone, for every address channel (web push; SMS and mobile push,
// channels.go); each inbox drops the actor and whoever muted its channel,
// and delivers to each browser, number or phone they registered.
func (a *App) pushRecipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]webpush.Recipient, error) {
	ids, err := a.recipients(ctx, db, ev)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var users []User
	if err := db.WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&users).Error; err != nil {
		return nil, err
	}
	out := make([]webpush.Recipient, len(users))
	for i, u := range users {
		out[i] = webpush.Recipient{ID: strconv.FormatInt(u.ID, 10), Locale: u.Locale, Location: zone(u.TimeZone)}
	}
	return out, nil
}
