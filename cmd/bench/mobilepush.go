package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apns"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcm"
)

// mobilepushGroup measures mobile push deliveries per second (the
// mobilepush inbox's Process through the FCM and the APNs provider)
// against a raw HTTP POST replaying the same request (headers, bearer or
// provider token, body) to the same local peer: FCM's over HTTP/1.1,
// APNs's over HTTP/2 with TLS.
//
// Ours is the inbox's whole delivery, as the worker calls it: the
// recipients' preferences and their device tokens (device.ListFor), two
// queries read at once (package inbox/address), the ledger's claim and
// mark, the notification worded
// and encoded, the cached OAuth access token (FCM) or provider token
// (APNs), and the POST. A middle row is the provider's Push alone (no
// database). The peers are channelPeers, as in the sms group.
func mobilepushGroup() group {
	return group{
		name:  "mobilepush",
		about: "mobile push deliveries/s (inbox Process: preferences, device tokens, ledger, FCM HTTP v1 or APNs HTTP/2) against a raw POST of the same request to the same local peer",
		run:   perPeer([]string{"fcm", "apns"}, mobilepushFigures),
	}
}

func mobilepushFigures(ctx context.Context, b *bench, service string, p channelPeer) ([]figure, error) {
	name, latency, workers := p.name, p.latency, p.workers
	peer := &capturePeer{}
	var provider mobilepush.Provider
	var srv *httptest.Server
	var rawClient *http.Client
	token := ""
	kind := device.FCM
	switch service {
	case "fcm":
		srv = httptest.NewServer(peer.handler(latency, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/token" {
				_, _ = io.WriteString(w, `{"access_token":"ya29.bench","expires_in":3599,"token_type":"Bearer"}`)
				return
			}
			_, _ = io.WriteString(w, `{"name":"projects/bench/messages/0:1"}`)
		}))
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		sa, err := json.Marshal(map[string]string{"type": "service_account", "project_id": "bench", "client_email": "bench@bench.iam.gserviceaccount.com",
			"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.URL + "/token"})
		if err != nil {
			return nil, err
		}
		p, err := fcm.New(fcm.Config{ServiceAccount: sa, BaseURL: srv.URL,
			HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}})
		if err != nil {
			return nil, err
		}
		provider, token = p, "bench:APA91b"+fmt.Sprint(time.Now().UnixNano())
		rawClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	default:
		kind = device.APNs
		srv = httptest.NewUnstartedServer(peer.handler(latency, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			if r.ProtoMajor != 2 {
				http.Error(w, `{"reason":"HTTP2Required"}`, http.StatusBadRequest)
				return
			}
			w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000000")
			w.WriteHeader(http.StatusOK)
		}))
		srv.EnableHTTP2 = true
		srv.StartTLS()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		p, err := apns.New(apns.Config{TeamID: "TEAM123456", KeyID: "KEY1234567", PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
			Topic: "dev.tidings.bench", BaseURL: srv.URL, HTTPClient: srv.Client()})
		if err != nil {
			return nil, err
		}
		tb := make([]byte, 32)
		_, _ = rand.Read(tb)
		provider, token = p, hex.EncodeToString(tb)
		tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		rawClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}}
	}
	defer srv.Close()
	defer rawClient.CloseIdleConnections()
	recipient := fmt.Sprintf("bench-%s-%d", service, time.Now().UnixNano())
	if _, err := device.Register(ctx, b.db, device.Address{Recipient: recipient, Kind: kind, Address: token}); err != nil {
		return nil, err
	}
	inboxName := fmt.Sprintf("bench-%s-%d", service, time.Now().UnixNano())
	defer func() {
		_, _ = device.Remove(context.WithoutCancel(ctx), b.db, recipient, kind, token)
		b.db.WithContext(context.WithoutCancel(ctx)).Exec(`DELETE FROM inbox_deliveries WHERE inbox = ?`, inboxName)
	}()
	in, err := mobilepush.NewInbox(mobilepush.Config{Name: inboxName, Provider: provider, Logger: quietLogger(),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]mobilepush.Recipient, error) {
			return []mobilepush.Recipient{{ID: recipient}}, nil
		}})
	if err != nil {
		return nil, err
	}
	ledger := inbox.NewLedger(inbox.LedgerConfig{})
	var nextID atomic.Int64
	nextID.Store(time.Now().UnixNano() / 1000)
	process := func(ctx context.Context, _, _ int) error {
		ev := activity.Event{ID: nextID.Add(1), Domain: "issue", SubjectID: "12", Action: "comment_added", ActorType: "users", ActorID: "1", ActorLabel: "Ana"}
		del := &inbox.Delivery{Inbox: inboxName, Event: ev, Attempt: 1, MaxAttempts: 1, DB: b.db, Ledger: ledger}
		if err := in.Process(ctx, del); err != nil {
			return err
		}
		if del.Suppressed() {
			return fmt.Errorf("%s bench: the delivery was suppressed", service)
		}
		return nil
	}
	// The first delivery fetches FCM's access token (the first request
	// captured): a second one is the send the raw side replays.
	if err := process(ctx, 0, 0); err != nil {
		return nil, err
	}
	if service == "fcm" {
		peer.mu.Lock()
		peer.first = nil
		peer.mu.Unlock()
		if err := process(ctx, 0, 0); err != nil {
			return nil, err
		}
	}
	d := p.round(b)
	b.logf("%s: peer %s: %d rounds of %v per side", service, name, b.rounds, d)
	before := peer.received.Load()
	msg := mobilepush.Message{Title: "Ana commented on #12", Tag: "issue/12", Events: []mobilepush.Ref{{Domain: "issue", ID: 1}}}
	var ours, alone, raw cpuMeter
	m, err := alternateN(b.rounds,
		ours.side(ctx, b, workers, d, process),
		alone.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error { return provider.Push(ctx, token, msg) }),
		raw.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
			return peer.replay(ctx, rawClient, srv.URL, http.StatusOK)
		}))
	if err != nil {
		return nil, err
	}
	var sent int64
	b.db.WithContext(ctx).Raw(`SELECT count(*) FROM inbox_deliveries WHERE inbox = ? AND status = 'sent'`, inboxName).Scan(&sent)
	b.note("%s, peer %s: %d requests received; %d deliveries marked sent in the ledger (each event once); CPU per delivery %s; per push alone %s; per raw POST %s", service, name, peer.received.Load()-before, sent, &ours, &alone, &raw)
	return []figure{
		{Name: service + " deliveries/s (Process), peer " + name, Unit: "ev/s", Ours: m[0], Baseline: m[2], Target: target{MinRatio: 0.8}},
		{Name: service + " pushes/s (provider.Push alone; no database), peer " + name, Unit: "ev/s", Ours: m[1], Baseline: m[2]},
	}, nil
}
