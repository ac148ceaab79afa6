package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/inbox/webpush"
)

// webpushGroup measures web push deliveries per second against a raw
// HTTP POST of the same encrypted payload, with the same headers, to the
// same local push service: an in-process HTTP/2 TLS server that reads
// each body and answers 201, as a push service does.
//
// Ours is the inbox's whole delivery, called as the worker calls it
// (Process on a Delivery, without asynq): the recipients' preferences
// and their subscriptions (device.ListFor), two queries read at once
// (package inbox/address), the ledger's claim and mark (concurrent marks
// share a statement),
// the message worded, a fresh
// ECDH key and salt per message (RFC 8291), the VAPID header (cached per
// push service) and the POST through the safe webhook client. A middle
// row is the send alone (encrypt, VAPID, POST; no database), which
// splits the cost of the crypto from the database's.
//
// The peers are channelPeers: at once (the library's cost laid bare:
// loopback TLS is far cheaper than any push service), 20 ms with 64 in
// flight, and a push service's round trip over the internet (FCM's and
// Mozilla's answer in tens of milliseconds), 50 and 100 ms with a
// worker's 20 in flight.
func webpushGroup() group {
	return group{
		name:  "webpush",
		about: "web push deliveries/s (inbox Process: preferences, subscriptions, ledger, RFC 8291 encryption, VAPID) against a raw POST of the same encrypted payload to the same local push service",
		run:   runWebpush,
	}
}

func runWebpush(ctx context.Context, b *bench) ([]figure, error) {
	return perPeer([]string{""}, func(ctx context.Context, b *bench, _ string, p channelPeer) ([]figure, error) {
		return webpushFigures(ctx, b, p)
	})(ctx, b)
}

func webpushFigures(ctx context.Context, b *bench, p channelPeer) ([]figure, error) {
	name, latency, workers := p.name, p.latency, p.workers
	var received atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil || r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad push", http.StatusBadRequest)
			return
		}
		if latency > 0 {
			time.Sleep(latency) // the push service's round trip
		}
		received.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()

	// The browser: a P-256 key pair and an auth secret, registered as a
	// subscription of one person.
	browser, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	auth := make([]byte, 16)
	if _, err := rand.Read(auth); err != nil {
		return nil, err
	}
	recipient := fmt.Sprintf("bench-webpush-%d", time.Now().UnixNano())
	sub, err := device.Register(ctx, b.db, device.Address{Recipient: recipient, Kind: device.WebPush, Address: srv.URL + "/push/bench",
		P256dh: base64.RawURLEncoding.EncodeToString(browser.PublicKey().Bytes()), Auth: base64.RawURLEncoding.EncodeToString(auth)})
	if err != nil {
		return nil, err
	}
	inboxName := "bench-webpush-" + fmt.Sprint(time.Now().UnixNano())
	defer func() {
		_, _ = device.Remove(context.WithoutCancel(ctx), b.db, recipient, device.WebPush, sub.Address)
		b.db.WithContext(context.WithoutCancel(ctx)).Exec(`DELETE FROM inbox_deliveries WHERE inbox = ?`, inboxName)
	}()

	pub, priv, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return nil, err
	}
	vapid, err := webpush.NewVAPID(webpush.VAPIDConfig{PublicKey: pub, PrivateKey: priv, Subject: "mailto:bench@tidings.test"})
	if err != nil {
		return nil, err
	}
	client := webhook.NewClient(webhook.Config{
		CheckAddr: func(ap netip.AddrPort) error {
			if ap.Addr().IsLoopback() {
				return nil
			}
			return webhook.PublicOnly(ap)
		},
		TLSConfig: tlsConfig,
	})
	in, err := webpush.NewInbox(webpush.Config{Name: inboxName, VAPID: vapid, Client: client, Logger: quietLogger(),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]webpush.Recipient, error) {
			return []webpush.Recipient{{ID: recipient}}, nil
		}})
	if err != nil {
		return nil, err
	}
	ledger := inbox.NewLedger(inbox.LedgerConfig{})
	var nextID atomic.Int64
	nextID.Store(time.Now().UnixNano() / 1000) // event ids no other run has used
	event := func() activity.Event {
		id := nextID.Add(1)
		return activity.Event{ID: id, Domain: "issue", SubjectID: "12", Action: "comment_added", ActorType: "users", ActorID: "1", ActorLabel: "Ana"}
	}
	// The raw side posts one message encrypted once, with the headers the
	// inbox sends: the same bytes on the wire.
	cat, err := locale.New("en")
	if err != nil {
		return nil, err
	}
	payload, err := webpush.Render(cat, "en", event()).Payload()
	if err != nil {
		return nil, err
	}
	raw, err := in.Request(sub, payload)
	if err != nil {
		return nil, err
	}
	rawClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true, MaxIdleConns: 32}}
	defer rawClient.CloseIdleConnections()
	d := p.round(b)
	var ours, alone, rawCPU cpuMeter
	ok := func(status int) error {
		if status != http.StatusCreated {
			return fmt.Errorf("webpush bench: the push service answered %d", status)
		}
		return nil
	}
	process := ours.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
		ev := event()
		del := &inbox.Delivery{Inbox: inboxName, Event: ev, Attempt: 1, MaxAttempts: 1, DB: b.db, Ledger: ledger}
		if err := in.Process(ctx, del); err != nil {
			return err
		}
		if del.Suppressed() {
			return fmt.Errorf("webpush bench: the delivery was suppressed")
		}
		return nil
	})
	send := alone.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
		req, err := in.Request(sub, payload) // a fresh key, salt and encryption
		if err != nil {
			return err
		}
		resp, err := client.Post(ctx, req)
		if err != nil {
			return err
		}
		return ok(resp.StatusCode)
	})
	post := rawCPU.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw.URL, bytes.NewReader(raw.Body))
		if err != nil {
			return err
		}
		req.Header = raw.Header.Clone()
		resp, err := rawClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return ok(resp.StatusCode)
	})
	b.logf("webpush: peer %s: %d rounds of %v per side", name, b.rounds, d)
	before := received.Load()
	m, err := alternateN(b.rounds, process, send, post)
	if err != nil {
		return nil, err
	}
	var sent int64
	b.db.WithContext(ctx).Raw(`SELECT count(*) FROM inbox_deliveries WHERE inbox = ? AND status = 'sent'`, inboxName).Scan(&sent)
	b.note("webpush, peer %s: %d pushes received; %d deliveries marked sent in the ledger (each event once); CPU per delivery %s; per send alone %s; per raw POST %s", name, received.Load()-before, sent, &ours, &alone, &rawCPU)
	return []figure{
		{Name: "webpush deliveries/s (Process), peer " + name, Unit: "ev/s", Ours: m[0], Baseline: m[2], Target: target{MinRatio: 0.8}},
		{Name: "webpush sends/s (encrypt, VAPID, POST; no database), peer " + name, Unit: "ev/s", Ours: m[1], Baseline: m[2]},
	}, nil
}
