package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
)

// smsGroup measures SMS deliveries per second (the sms inbox's Process
// through the Twilio provider) against a raw HTTP POST of the same
// request (the form, the basic auth) to the same local Twilio-speaking
// server, which reads each form and answers 201 with a message resource.
//
// Ours is the inbox's whole delivery, as the worker calls it: the
// recipients' preferences (one query) read at once with their numbers
// (device.ListFor, then the suppression list: package inbox/address),
// the ledger's claim and mark, the text
// worded and cut, and the POST. A middle row is the provider's Send
// alone (no database), which splits the HTTP client's cost from the
// database's. The peers are channelPeers: at once, 20 ms with 64 in
// flight, and 50 and 100 ms with a worker's 20 in flight (Twilio's API
// answers in tens to hundreds of milliseconds).
func smsGroup() group {
	return group{
		name:  "sms",
		about: "SMS deliveries/s (inbox Process: preferences, numbers, suppression list, ledger, Twilio form POST) against a raw POST of the same form to the same local Twilio",
		run: perPeer([]string{""}, func(ctx context.Context, b *bench, _ string, p channelPeer) ([]figure, error) {
			return smsFigures(ctx, b, p)
		}),
	}
}

// capturePeer is a local server that answers every request with status
// and body after latency, counting them, and keeps the first request's
// method, URL, headers and body: the raw side replays it, the same bytes
// on the wire.
type capturePeer struct {
	received atomic.Int64
	mu       sync.Mutex
	first    *http.Request
	body     []byte
}

func (c *capturePeer) handler(latency time.Duration, answer func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		if c.first == nil {
			c.first, c.body = r.Clone(context.Background()), body
		}
		c.mu.Unlock()
		if latency > 0 {
			time.Sleep(latency) // the service's round trip
		}
		c.received.Add(1)
		answer(w, r, body)
	})
}

// replay posts the captured request again with client, and checks the
// answer's status.
func (c *capturePeer) replay(ctx context.Context, client *http.Client, base string, want int) error {
	c.mu.Lock()
	first, body := c.first, c.body
	c.mu.Unlock()
	if first == nil {
		return fmt.Errorf("bench: no request captured to replay")
	}
	req, err := http.NewRequestWithContext(ctx, first.Method, base+first.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = first.Header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("bench: the peer answered %d", resp.StatusCode)
	}
	return nil
}

func smsFigures(ctx context.Context, b *bench, p channelPeer) ([]figure, error) {
	name, latency, workers := p.name, p.latency, p.workers
	const account = "AC0123456789abcdef0123456789abcdef"
	peer := &capturePeer{}
	srv := httptest.NewServer(peer.handler(latency, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if _, _, ok := r.BasicAuth(); !ok || len(body) == 0 {
			http.Error(w, `{"code":20003,"message":"Authenticate","status":401}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","num_segments":"1","direction":"outbound-api"}`)
	}))
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: workers}
	provider, err := twilio.New(twilio.Config{AccountSID: account, AuthToken: "bench-token", From: "+15005550006", BaseURL: srv.URL,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: transport}})
	if err != nil {
		return nil, err
	}
	recipient := fmt.Sprintf("bench-sms-%d", time.Now().UnixNano())
	number := fmt.Sprintf("+1415%07d", time.Now().UnixNano()%1e7)
	if _, err := device.Register(ctx, b.db, device.Address{Recipient: recipient, Kind: device.Phone, Address: number}); err != nil {
		return nil, err
	}
	inboxName := "bench-sms-" + fmt.Sprint(time.Now().UnixNano())
	defer func() {
		_, _ = device.Remove(context.WithoutCancel(ctx), b.db, recipient, device.Phone, number)
		b.db.WithContext(context.WithoutCancel(ctx)).Exec(`DELETE FROM inbox_deliveries WHERE inbox = ?`, inboxName)
	}()
	in, err := sms.NewInbox(sms.Config{Name: inboxName, Provider: provider, Logger: quietLogger(),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]sms.Recipient, error) {
			return []sms.Recipient{{ID: recipient}}, nil
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
			return fmt.Errorf("sms bench: the delivery was suppressed")
		}
		return nil
	}
	if err := process(ctx, 0, 0); err != nil { // the request the raw side replays
		return nil, err
	}
	rawClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer rawClient.CloseIdleConnections()
	d := p.round(b)
	b.logf("sms: peer %s: %d rounds of %v per side", name, b.rounds, d)
	before := peer.received.Load()
	msg := sms.Message{To: number, Body: "Ana commented on #12"}
	var ours, alone, raw cpuMeter
	m, err := alternateN(b.rounds,
		ours.side(ctx, b, workers, d, process),
		alone.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error { _, err := provider.Send(ctx, msg); return err }),
		raw.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
			return peer.replay(ctx, rawClient, srv.URL, http.StatusCreated)
		}))
	if err != nil {
		return nil, err
	}
	var sent int64
	b.db.WithContext(ctx).Raw(`SELECT count(*) FROM inbox_deliveries WHERE inbox = ? AND status = 'sent'`, inboxName).Scan(&sent)
	b.note("sms, peer %s: %d requests received; %d deliveries marked sent in the ledger (each event once); CPU per delivery %s; per send alone %s; per raw POST %s", name, peer.received.Load()-before, sent, &ours, &alone, &raw)
	return []figure{
		{Name: "sms deliveries/s (Process, Twilio), peer " + name, Unit: "ev/s", Ours: m[0], Baseline: m[2], Target: target{MinRatio: 0.8}},
		{Name: "sms sends/s (provider.Send alone; no database), peer " + name, Unit: "ev/s", Ours: m[1], Baseline: m[2]},
	}, nil
}
