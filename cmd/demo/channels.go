package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/chat/discord"
	"github.com/tidingsdev/tidings/inbox/chat/discord/discordtest"
	"github.com/tidingsdev/tidings/inbox/chat/teams"
	"github.com/tidingsdev/tidings/inbox/chat/teams/teamstest"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apns"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apnstest"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcm"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcmtest"
	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// The channel inboxes' names (task IDs, ledger rows).
const (
	inboxSMS     = "sms"
	inboxFCM     = "fcm"
	inboxAPNs    = "apns"
	inboxDiscord = "discord"
	inboxTeams   = "teams"
)

// smsFrom is the number the demo texts from.
const smsFrom = "+15005550006"

// smsActions are the actions texted: SMS costs money per message, so an
// app texts a few kinds (being assigned, a comment), not every label.
var smsActions = []string{ActionAssigned, ActionCommentAdded}

// devPeers are the local servers the channel inboxes deliver to in dev
// mode, in the worker process: Twilio's Messages API, FCM, APNs, Discord's
// and Teams' incoming webhooks (each package's NewServer, as an app's own
// dev mode would run them). Every organisation gets a Discord and a Teams
// webhook of its own (chatHook).
type devPeers struct {
	twilio  *twiliotest.Server
	fcm     *fcmtest.Server
	apns    *apnstest.Server
	discord *discordtest.Server
	teams   *teamstest.Server
}

func (p *devPeers) close() {
	if p == nil {
		return
	}
	if p.twilio != nil {
		p.twilio.Close()
	}
	if p.fcm != nil {
		p.fcm.Close()
	}
	if p.apns != nil {
		p.apns.Close()
	}
	if p.discord != nil {
		p.discord.Close()
	}
	if p.teams != nil {
		p.teams.Close()
	}
}

func startPeers() (p *devPeers, err error) {
	p = &devPeers{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.twilio, err = twiliotest.NewServer(); err != nil {
		return nil, err
	}
	if p.fcm, err = fcmtest.NewServer(); err != nil {
		return nil, err
	}
	if p.apns, err = apnstest.NewServer(); err != nil {
		return nil, err
	}
	if p.discord, err = discordtest.NewServer(); err != nil {
		return nil, err
	}
	if p.teams, err = teamstest.NewServer(teamstest.Config{}); err != nil {
		return nil, err
	}
	return p, nil
}

// chatHook is an organisation's webhook ID on the dev Discord and Teams:
// the dev page shows an organisation the posts to its own.
func chatHook(org int64) string { return strconv.FormatInt(org, 10) }

// channelInboxes are the SMS, mobile push (FCM, APNs) and chat (Discord,
// Teams) inboxes, for tidings.Config.Inboxes as an app would give them.
// They deliver to local peers in dev mode only (the demo has no settings
// for the real services): with -no-dev there are none. The worker starts
// the peers; a -role web process builds the same inboxes (to check rules,
// list dead letters) with addresses it never calls.
func (a *App) channelInboxes(ctx context.Context) ([]inbox.Inbox, error) {
	if a.cfg.NoDev {
		return nil, nil
	}
	f := a.fan
	var (
		twilioCfg              = twilio.Config{From: smsFrom}
		fcmCfg                 fcm.Config
		apnsCfg                = apns.Config{TeamID: apnstest.TeamID, KeyID: apnstest.KeyID, Topic: apnstest.Topic}
		discordURL, teamsURL   func(org int64) string
		discordHTTP, teamsHTTP *webhook.Client
		err                    error
	)
	if a.cfg.Role == RoleWeb {
		// Never called from the web process: credentials of its own.
		twilioCfg.AccountSID, twilioCfg.AuthToken, twilioCfg.BaseURL = "AC"+strings.Repeat("0", 32), "unused", "http://127.0.0.1:1"
		if fcmCfg.ServiceAccount, err = placeholderServiceAccount(); err != nil {
			return nil, err
		}
		fcmCfg.BaseURL = "http://127.0.0.1:1"
		if apnsCfg.PrivateKey, err = placeholderP8(); err != nil {
			return nil, err
		}
		apnsCfg.BaseURL = "https://127.0.0.1:1"
		discordURL = func(org int64) string { return "https://127.0.0.1:1/api/webhooks/" + chatHook(org) + "/unused" }
		teamsURL = discordURL
	} else {
		if f.peers, err = startPeers(); err != nil {
			return nil, fmt.Errorf("dev channel servers: %w", err)
		}
		p := f.peers
		twilioCfg.AccountSID, twilioCfg.AuthToken, twilioCfg.BaseURL = p.twilio.AccountSID, p.twilio.AuthToken, p.twilio.URL
		fcmCfg.ServiceAccount, fcmCfg.BaseURL = p.fcm.ServiceAccount(), p.fcm.URL
		apnsCfg.PrivateKey, apnsCfg.BaseURL, apnsCfg.HTTPClient = p.apns.PrivateKey(), p.apns.URL, p.apns.Client()
		discordURL = func(org int64) string { return p.discord.Webhook(chatHook(org), "dev-"+chatHook(org)) }
		teamsURL = func(org int64) string { return p.teams.Webhook(chatHook(org), "dev-"+chatHook(org)) }
		discordHTTP, teamsHTTP = p.discord.Client(), p.teams.Client()
	}

	issueURL := func(ev activity.Event) string { return a.cfg.BaseURL + "/issues/" + ev.SubjectID }
	texter, err := twilio.New(twilioCfg)
	if err != nil {
		return nil, err
	}
	smsInbox, err := sms.NewInbox(sms.Config{Name: inboxSMS, Provider: texter, Accepts: inbox.On(a.issues.Name(), smsActions...),
		Recipients: a.pushRecipients, Defaults: a.defaults, Catalog: f.catalog, URL: issueURL, Logger: f.logger, Now: a.cfg.Now})
	if err != nil {
		return nil, err
	}
	android, err := fcm.New(fcmCfg)
	if err != nil {
		return nil, err
	}
	ios, err := apns.New(apnsCfg)
	if err != nil {
		return nil, err
	}
	out := []inbox.Inbox{smsInbox}
	for _, c := range []struct {
		name string
		p    mobilepush.Provider
	}{{inboxFCM, android}, {inboxAPNs, ios}} {
		in, err := mobilepush.NewInbox(mobilepush.Config{Name: c.name, Provider: c.p, Accepts: quietFilter(a.issues),
			Recipients: a.pushRecipients, Defaults: a.defaults, Catalog: f.catalog, URL: issueURL, Logger: f.logger, Now: a.cfg.Now})
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}

	// Chat: each organisation's events go to its own channel (a rule per
	// tenant). The organisations are read once, at start: the seed made
	// them (the web process seeds before it gets here).
	var orgs []int64
	if err := a.db.WithContext(ctx).Model(&Organisation{}).Order("id").Pluck("id", &orgs).Error; err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name   string
		p      chat.Provider
		url    func(int64) string
		client *webhook.Client
	}{{inboxDiscord, discord.Provider{}, discordURL, discordHTTP}, {inboxTeams, teams.Provider{}, teamsURL, teamsHTTP}} {
		var rules []chat.Rule
		for _, org := range orgs {
			rules = append(rules, chat.Rule{Tenant: strconv.FormatInt(org, 10), URL: c.url(org)})
		}
		router, err := chat.NewRouter(chat.RouterConfig{Rules: rules})
		if err != nil {
			return nil, err
		}
		in, err := chat.NewInbox(chat.Config{Name: c.name, Provider: c.p, Router: router, Accepts: quietFilter(a.issues),
			Client: c.client, Catalog: f.catalog, Now: a.cfg.Now})
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// placeholderServiceAccount is an FCM service account's key for a process
// that never pushes.
func placeholderServiceAccount() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"type": "service_account", "project_id": "tidings-demo", "client_email": "push@tidings-demo.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": "http://127.0.0.1:1/token"})
}

// placeholderP8 is an APNs key for a process that never pushes.
func placeholderP8() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
