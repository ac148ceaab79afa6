package mobilepush_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apns"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apnstest"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcm"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcmtest"
)

// pushed is one request a peer answered, either service's.
type pushed struct {
	Token, Title, Body, Tag, Proto string
	Status                         int
	Reason                         string
}

// peer is a local push service and a provider speaking to it, the same
// tests running against each.
type peer struct {
	name     string
	kind     device.Kind
	provider func(now func() time.Time) mobilepush.Provider
	token    func() string
	gone     func(token string)
	fail     func(status, n int, retryAfter string)
	down     func(status int)
	up       func()
	pushes   func() []pushed
	okStatus int
}

func (p peer) accepted() []pushed {
	var out []pushed
	for _, x := range p.pushes() {
		if x.Status == p.okStatus {
			out = append(out, x)
		}
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func fcmPeer(t *testing.T) (peer, *fcmtest.Server) {
	s := fcmtest.Start(t)
	sa := s.ServiceAccount()
	return peer{
		name: "fcm", kind: device.FCM, okStatus: http.StatusOK,
		provider: func(now func() time.Time) mobilepush.Provider {
			p, err := fcm.New(fcm.Config{ServiceAccount: sa, BaseURL: s.URL, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		token: func() string { return "d" + randHex(8) + ":APA91b" + randHex(40) },
		gone:  s.Unregister, fail: s.Fail, down: s.Down, up: s.Up,
		pushes: func() []pushed {
			var out []pushed
			for _, p := range s.Pushes() {
				out = append(out, pushed{Token: p.Token, Title: p.Title, Body: p.Body, Tag: p.CollapseKey, Proto: "HTTP/1.1", Status: p.Status, Reason: p.Reason})
			}
			return out
		},
	}, s
}

func apnsPeer(t *testing.T) (peer, *apnstest.Server) {
	s := apnstest.Start(t)
	key := s.PrivateKey()
	return peer{
		name: "apns", kind: device.APNs, okStatus: http.StatusOK,
		provider: func(now func() time.Time) mobilepush.Provider {
			p, err := apns.New(apns.Config{TeamID: apnstest.TeamID, KeyID: apnstest.KeyID, PrivateKey: key, Topic: apnstest.Topic,
				BaseURL: s.URL, HTTPClient: s.Client(), Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		token: func() string { return randHex(32) },
		gone:  s.Unregister, fail: s.Fail, down: s.Down, up: s.Up,
		pushes: func() []pushed {
			var out []pushed
			for _, p := range s.Pushes() {
				out = append(out, pushed{Token: p.Token, Title: p.Title, Body: p.Body, Tag: p.ThreadID, Proto: p.Proto, Status: p.Status, Reason: p.Reason})
			}
			return out
		},
	}, s
}

// eachPeer runs f against a fresh FCM and a fresh APNs.
func eachPeer(t *testing.T, f func(t *testing.T, p peer)) {
	t.Run("fcm", func(t *testing.T) { p, _ := fcmPeer(t); f(t, p) })
	t.Run("apns", func(t *testing.T) { p, _ := apnsPeer(t); f(t, p) })
}
