package main

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/chat/discord"
	"github.com/tidingsdev/tidings/inbox/chat/teams"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// chatGroup measures chat deliveries per second (the chat inbox's
// Process through the Discord and the Teams provider) against a raw
// HTTP POST replaying the same request (headers, JSON body) to the same
// local webhook, over TLS on 127.0.0.1 (internal/loopback, the skeleton
// of discordtest and teamstest), which answers as the service does
// (Discord 204 with its rate-limit headers, a bucket never empty; Teams
// 202) after the peer's latency. discordtest and teamstest answer at
// once and keep every message, so the group has its own capturePeer.
//
// Ours is the inbox's whole delivery, as the worker calls it: the
// route (chat.Router, one Default webhook), the suppression list's
// check of the webhook, the ledger's claim and mark, the message worded
// and encoded, and the POST through the inbox/webhook Client (address
// checked at dial, TLS). A middle row is the provider's post alone (no
// database): chat.Provider's Request, the client's Do and the
// provider's Result. The peers are channelPeers, as in the sms group.
func chatGroup() group {
	return group{
		name:  "chat",
		about: "chat deliveries/s (inbox Process: route, suppression list, ledger, Discord or Teams webhook POST over TLS) against a raw POST of the same request to the same local webhook",
		run:   perPeer([]string{"discord", "teams"}, chatFigures),
	}
}

func chatFigures(ctx context.Context, b *bench, service string, p channelPeer) ([]figure, error) {
	name, latency, workers := p.name, p.latency, p.workers
	peer := &capturePeer{}
	var provider chat.Provider
	var path string
	want := http.StatusNoContent
	switch service {
	case "discord":
		provider, path = discord.Provider{}, "/api/webhooks/1234567890/bench-token"
	default:
		provider, path, want = teams.Provider{}, "/workflows/bench/triggers/manual/paths/invoke?api-version=2016-06-01&sig=bench", http.StatusAccepted
	}
	srv, err := loopback.Serve(peer.handler(latency, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if want == http.StatusNoContent {
			w.Header().Set("X-RateLimit-Limit", "5")
			w.Header().Set("X-RateLimit-Remaining", "4")
			w.Header().Set("X-RateLimit-Reset-After", "0.400")
		}
		w.WriteHeader(want)
	}), loopback.TLS)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig
	client := webhook.NewClient(webhook.Config{TLSConfig: tlsConfig.Clone(), CheckAddr: func(ap netip.AddrPort) error {
		if ap.Addr().IsLoopback() {
			return nil
		}
		return webhook.PublicOnly(ap)
	}})
	url := srv.URL + path
	router, err := chat.NewRouter(chat.RouterConfig{Default: url})
	if err != nil {
		return nil, err
	}
	inboxName := fmt.Sprintf("bench-%s-%d", service, time.Now().UnixNano())
	defer b.db.WithContext(context.WithoutCancel(ctx)).Exec(`DELETE FROM inbox_deliveries WHERE inbox = ?`, inboxName)
	in, err := chat.NewInbox(chat.Config{Name: inboxName, Provider: provider, Router: router, Client: client})
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
	if err := process(ctx, 0, 0); err != nil { // the request the raw side replays
		return nil, err
	}
	rawClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig.Clone(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: workers}}
	defer rawClient.CloseIdleConnections()
	d := p.round(b)
	b.logf("%s: peer %s: %d rounds of %v per side", service, name, b.rounds, d)
	before := peer.received.Load()
	msg := chat.Message{Title: "Ana commented on #12", Events: []activity.Event{{ID: 1, Domain: "issue", SubjectID: "12", Action: "comment_added", ActorType: "users", ActorID: "1", ActorLabel: "Ana"}}}
	var ours, alone, raw cpuMeter
	m, err := alternateN(b.rounds,
		ours.side(ctx, b, workers, d, process),
		alone.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
			return chatPost(ctx, client, provider, url, msg)
		}),
		raw.side(ctx, b, workers, d, func(ctx context.Context, _, _ int) error {
			return peer.replay(ctx, rawClient, srv.URL, want)
		}))
	if err != nil {
		return nil, err
	}
	var sent int64
	b.db.WithContext(ctx).Raw(`SELECT count(*) FROM inbox_deliveries WHERE inbox = ? AND status = 'sent'`, inboxName).Scan(&sent)
	b.note("%s, peer %s: %d requests received; %d deliveries marked sent in the ledger (each event once); CPU per delivery %s; per post alone %s; per raw POST %s", service, name, peer.received.Load()-before, sent, &ours, &alone, &raw)
	return []figure{
		{Name: service + " deliveries/s (Process, webhook), peer " + name, Unit: "ev/s", Ours: m[0], Baseline: m[2], Target: target{MinRatio: 0.8}},
		{Name: service + " posts/s (provider and webhook client alone; no database), peer " + name, Unit: "ev/s", Ours: m[1], Baseline: m[2]},
	}, nil
}

// chatPost is the post alone, as the inbox makes it: the provider's
// request, the webhook client's Post, the provider's reading of the
// reply.
func chatPost(ctx context.Context, client *webhook.Client, provider chat.Provider, url string, msg chat.Message) error {
	req, err := provider.Request(url, msg)
	if err != nil {
		return err
	}
	resp, err := client.Post(ctx, req)
	if err != nil {
		return err
	}
	if _, refused := provider.Read(resp, time.Now()); refused != nil {
		return refused
	}
	return nil
}
