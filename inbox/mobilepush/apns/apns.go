// Package apns is a mobilepush.Provider for Apple's Push Notification
// service: its HTTP/2 provider API (POST /3/device/{token}) with token
// authentication, a JWT signed ES256 with the app's .p8 key (kid the
// key's ID, iss the team's), made here with crypto/ecdsa and reused for
// 50 minutes (Apple refuses tokens older than an hour and throttles
// fresher renewals than every 20 minutes). net/http speaks HTTP/2 to
// APNs by itself.
//
//	p, err := apns.New(apns.Config{TeamID: "ABCDE12345", KeyID: "KEY1234567", PrivateKey: []byte(secret), Topic: "com.example.app"}) // secret: the .p8 file
//	in, err := mobilepush.NewInbox(mobilepush.Config{Provider: p, Catalog: cat,
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]mobilepush.Recipient, error) {
//			return []mobilepush.Recipient{{ID: ev.SubjectID}}, nil
//		}})
//
// # Answers
//
// APNs answers an error with a status and {"reason": "..."}. 410
// Unregistered and 400 BadDeviceToken are mobilepush.ErrGone: the token
// is removed. 429 TooManyRequests is mobilepush.ErrRateLimited (APNs
// sends no Retry-After; the inbox waits a minute unless it does); 403
// ExpiredProviderToken is answered by signing a new token and pushing
// once more; 403 InvalidProviderToken, MissingProviderToken and
// BadCertificate, and 400 TopicDisallowed and BadTopic are
// mobilepush.ErrUnauthorized; 500 and 503 are mobilepush.ErrUnavailable;
// another 4xx (PayloadTooLarge, DeviceTokenNotForTopic) is
// mobilepush.ErrRejected.
package apns

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
)

// APNs's hosts.
const (
	Production = "https://api.push.apple.com"
	Sandbox    = "https://api.sandbox.push.apple.com"
)

// MaxPayload is APNs's limit of a notification's JSON, in bytes.
const MaxPayload = 4096

// TokenTTL is how long a signed provider token is reused.
const TokenTTL = 50 * time.Minute

// Config configures a Provider. Zero fields take the documented defaults.
type Config struct {
	// TeamID (iss) and KeyID (kid) are the 10-character IDs of the
	// developer team and of the key. Required.
	TeamID, KeyID string
	// PrivateKey is the key's .p8 file (PEM, PKCS #8, P-256). Required (a
	// secret).
	PrivateKey []byte
	// Topic is the app's bundle ID (apns-topic). Required.
	Topic string
	// BaseURL is APNs's scheme and host. Default Production; Sandbox for
	// development builds of the app.
	BaseURL string
	// Expiration is how long APNs keeps a notification for a device that
	// is offline (apns-expiration). Default 24 hours.
	Expiration time.Duration
	// HTTPClient makes the requests; its transport must speak HTTP/2
	// (APNs speaks nothing else). Default: a client whose transport
	// attempts HTTP/2, with a 15s timeout.
	HTTPClient *http.Client
	// Now is the clock of the tokens. Default time.Now.
	Now func() time.Time
}

// Provider pushes through APNs: a mobilepush.Provider. It is safe for
// concurrent use.
type Provider struct {
	cfg  Config
	key  *ecdsa.PrivateKey
	base string

	mu       sync.Mutex
	jwt      string
	signedAt time.Time
}

var idRE = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// New checks cfg and returns the provider.
func New(cfg Config) (*Provider, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "apns.Config." + field, Reason: reason}
	}
	if !idRE.MatchString(cfg.TeamID) {
		return nil, bad("TeamID", "is not a 10-character team ID")
	}
	if !idRE.MatchString(cfg.KeyID) {
		return nil, bad("KeyID", "is not a 10-character key ID")
	}
	block, _ := pem.Decode(cfg.PrivateKey)
	if block == nil {
		return nil, bad("PrivateKey", "is not PEM (the .p8 file)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, bad("PrivateKey", "is not a PKCS #8 key")
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, bad("PrivateKey", "is not a P-256 key")
	}
	if cfg.Topic == "" || strings.ContainsAny(cfg.Topic, " \r\n") {
		return nil, bad("Topic", "is not a bundle ID")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = Production
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || u.Host == "" {
		return nil, bad("BaseURL", "is not an absolute URL")
	}
	if cfg.Expiration == 0 {
		cfg.Expiration = 24 * time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4, IdleConnTimeout: 5 * time.Minute}}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Provider{cfg: cfg, key: key, base: strings.TrimRight(cfg.BaseURL, "/")}, nil
}

// Name implements mobilepush.Provider.
func (p *Provider) Name() string { return "apns" }

// Kind implements mobilepush.Provider: APNs device tokens.
func (p *Provider) Kind() device.Kind { return device.APNs }

// token returns the provider token, signing a new one when the cached one
// is older than TokenTTL or was refused (stale).
func (p *Provider) token(stale string) (string, error) {
	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jwt != "" && p.jwt != stale && now.Sub(p.signedAt) < TokenTTL {
		return p.jwt, nil
	}
	enc := base64.RawURLEncoding
	header, err := json.Marshal(map[string]string{"alg": "ES256", "kid": p.cfg.KeyID})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{"iss": p.cfg.TeamID, "iat": now.Unix()})
	if err != nil {
		return "", err
	}
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, p.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	p.jwt, p.signedAt = input+"."+enc.EncodeToString(sig), now
	return p.jwt, nil
}

// Payload is the notification's JSON: aps with the alert and thread-id,
// and the app's keys url and events.
func Payload(m mobilepush.Message) ([]byte, error) {
	alert := map[string]string{"title": m.Title}
	if m.Body != "" {
		alert["body"] = m.Body
	}
	aps := map[string]any{"alert": alert, "sound": "default"}
	if m.Tag != "" {
		aps["thread-id"] = m.Tag
	}
	body := map[string]any{"aps": aps, "events": m.Events}
	if m.URL != "" {
		body["url"] = m.URL
	}
	b, err := json.Marshal(body)
	for err == nil && len(b) > MaxPayload && len(m.Events) > 1 {
		m.Events = m.Events[len(m.Events)/2:]
		body["events"] = m.Events
		b, err = json.Marshal(body)
	}
	return b, err
}

// Push implements mobilepush.Provider: one POST over HTTP/2 (two when
// APNs says the provider token expired).
func (p *Provider) Push(ctx context.Context, token string, m mobilepush.Message) error {
	body, err := Payload(m)
	if err != nil {
		return &mobilepush.PushError{Provider: "apns", Status: 400, Message: err.Error(), Class: mobilepush.ErrRejected}
	}
	stale := ""
	for try := 0; ; try++ {
		jwt, err := p.token(stale)
		if err != nil {
			return &mobilepush.PushError{Provider: "apns", Status: 403, Reason: "sign", Message: err.Error(), Class: mobilepush.ErrUnauthorized}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/3/device/"+url.PathEscape(token), bytes.NewReader(body))
		if err != nil {
			return err
		}
		h := req.Header
		h.Set("authorization", "bearer "+jwt)
		h.Set("apns-topic", p.cfg.Topic)
		h.Set("apns-push-type", "alert")
		h.Set("apns-priority", "10")
		h.Set("apns-expiration", strconv.FormatInt(p.cfg.Now().Add(p.cfg.Expiration).Unix(), 10))
		if m.Tag != "" && len(m.Tag) <= 64 {
			h.Set("apns-collapse-id", m.Tag)
		}
		h.Set("content-type", "application/json")
		resp, err := p.cfg.HTTPClient.Do(req)
		if err != nil {
			return &mobilepush.PushError{Provider: "apns", Err: err}
		}
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		pe := p.refusal(resp, reply)
		if pe.Reason == "ExpiredProviderToken" && try == 0 {
			stale = jwt
			continue
		}
		return pe
	}
}

// refusal classes an APNs error (see the package's doc).
func (p *Provider) refusal(resp *http.Response, body []byte) *mobilepush.PushError {
	var e struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &e)
	pe := &mobilepush.PushError{Provider: "apns", Status: resp.StatusCode, Reason: e.Reason}
	if id := resp.Header.Get("apns-id"); id != "" {
		pe.Message = "apns-id " + id
	}
	if d, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), p.cfg.Now()); ok {
		pe.RetryAfter = d
	}
	switch {
	case resp.StatusCode == http.StatusGone || e.Reason == "Unregistered" || e.Reason == "BadDeviceToken" || e.Reason == "ExpiredToken":
		pe.Class = mobilepush.ErrGone
	case resp.StatusCode == http.StatusTooManyRequests:
		pe.Class = mobilepush.ErrRateLimited
	case resp.StatusCode == http.StatusForbidden || e.Reason == "TopicDisallowed" || e.Reason == "BadTopic" || e.Reason == "MissingTopic":
		pe.Class = mobilepush.ErrUnauthorized
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		pe.Class = mobilepush.ErrRejected
	default:
		pe.Class = mobilepush.ErrUnavailable
	}
	return pe
}

// String names the provider, team and topic, never the key.
func (p *Provider) String() string { return fmt.Sprintf("apns(%s, %s)", p.cfg.TeamID, p.cfg.Topic) }
