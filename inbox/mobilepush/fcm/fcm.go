// Package fcm is a mobilepush.Provider for Firebase Cloud Messaging's
// HTTP v1 API (POST /v1/projects/{project}/messages:send), with the
// standard library only: the OAuth 2.0 access token comes from the
// service account's key, a JWT signed here with crypto/rsa (RS256) and
// exchanged at the token endpoint (RFC 7523), and is reused until five
// minutes before it expires. Google's Go SDKs pull in the whole of
// google.golang.org/api and gRPC for what is two form and JSON posts.
//
//	p, err := fcm.New(fcm.Config{ServiceAccount: []byte(secret)}) // the JSON key file of a service account
//	in, err := mobilepush.NewInbox(mobilepush.Config{Provider: p, Catalog: cat,
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]mobilepush.Recipient, error) {
//			return []mobilepush.Recipient{{ID: ev.SubjectID}}, nil
//		}})
//
// # Answers
//
// FCM answers an error with {"error": {"code", "message", "status",
// "details": [{"@type": "...FcmError", "errorCode": "UNREGISTERED"}]}}.
// UNREGISTERED (404) is mobilepush.ErrGone: the token is removed. 429
// QUOTA_EXCEEDED is mobilepush.ErrRateLimited with the Retry-After
// header's wait; 503 UNAVAILABLE and 500 INTERNAL are
// mobilepush.ErrUnavailable (with the Retry-After when sent); 401 is
// answered by fetching a new access token and pushing once more, and is
// mobilepush.ErrUnauthorized if it stays (so are 403 SENDER_ID_MISMATCH
// and THIRD_PARTY_AUTH_ERROR, and a token endpoint refusing the key);
// another 4xx (INVALID_ARGUMENT) is mobilepush.ErrRejected.
package fcm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
)

// Defaults of Config.
const (
	DefaultBaseURL  = "https://fcm.googleapis.com"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// Scope is the OAuth scope of FCM's send API.
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
)

// Config configures a Provider. Zero fields take the documented defaults.
type Config struct {
	// ServiceAccount is the service account's JSON key (Firebase console,
	// Project settings, Service accounts): its project_id, client_email,
	// private_key (PEM, PKCS #8 RSA) and token_uri are read. Required (a
	// secret).
	ServiceAccount []byte
	// ProjectID overrides the key's project_id.
	ProjectID string
	// BaseURL is FCM's scheme and host. Default DefaultBaseURL.
	BaseURL string
	// TokenURL overrides the key's token_uri (default DefaultTokenURL).
	TokenURL string
	// TTL is how long FCM keeps a message for a device that is offline
	// (android.ttl). Default 24 hours; at most 28 days.
	TTL time.Duration
	// HTTPClient makes the requests. Default: a client with a 15s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock of the JWT and Retry-After dates. Default time.Now.
	Now func() time.Time
}

// Provider pushes through FCM: a mobilepush.Provider. It is safe for
// concurrent use.
type Provider struct {
	cfg      Config
	email    string
	key      *rsa.PrivateKey
	tokenURL string
	sendURL  string

	mu      sync.Mutex
	access  string
	renewAt time.Time
}

// serviceAccount is the part of the key file read.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// New checks cfg and returns the provider.
func New(cfg Config) (*Provider, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "fcm.Config." + field, Reason: reason}
	}
	var sa serviceAccount
	if err := json.Unmarshal(cfg.ServiceAccount, &sa); err != nil {
		return nil, bad("ServiceAccount", "is not a service account's JSON key")
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, bad("ServiceAccount", "has no client_email or private_key")
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, bad("ServiceAccount", "private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, bad("ServiceAccount", "private_key is not a PKCS #8 or PKCS #1 key")
		}
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, bad("ServiceAccount", "private_key is not an RSA key")
	}
	if cfg.ProjectID == "" {
		cfg.ProjectID = sa.ProjectID
	}
	if cfg.ProjectID == "" || strings.ContainsAny(cfg.ProjectID, "/?#") {
		return nil, bad("ProjectID", "is empty (and the key names no project_id) or not a project ID")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = sa.TokenURI
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	for f, v := range map[string]string{"BaseURL": cfg.BaseURL, "TokenURL": cfg.TokenURL} {
		if u, err := url.Parse(v); err != nil || u.Host == "" {
			return nil, bad(f, "is not an absolute URL")
		}
	}
	switch {
	case cfg.TTL == 0:
		cfg.TTL = 24 * time.Hour
	case cfg.TTL < 0 || cfg.TTL > 28*24*time.Hour:
		return nil, bad("TTL", "must be between 0 and 28 days")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Provider{cfg: cfg, email: sa.ClientEmail, key: key, tokenURL: cfg.TokenURL,
		sendURL: strings.TrimRight(cfg.BaseURL, "/") + "/v1/projects/" + cfg.ProjectID + "/messages:send"}, nil
}

// Name implements mobilepush.Provider.
func (p *Provider) Name() string { return "fcm" }

// Kind implements mobilepush.Provider: FCM registration tokens.
func (p *Provider) Kind() device.Kind { return device.FCM }

// assertion is the signed JWT the token endpoint exchanges (RFC 7523).
func (p *Provider) assertion(now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{"iss": p.email, "scope": Scope, "aud": p.tokenURL,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		return "", err
	}
	input := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// accessToken returns a cached access token, or fetches one.
func (p *Provider) accessToken(ctx context.Context) (string, error) {
	now := p.cfg.Now()
	p.mu.Lock()
	tok, renew := p.access, p.renewAt
	p.mu.Unlock()
	if tok != "" && now.Before(renew) {
		return tok, nil
	}
	jwt, err := p.assertion(now)
	if err != nil {
		return "", &mobilepush.PushError{Provider: "fcm", Status: 400, Reason: "sign", Message: err.Error(), Class: mobilepush.ErrUnauthorized}
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", &mobilepush.PushError{Provider: "fcm", Err: fmt.Errorf("token endpoint: %w", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var got struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &got)
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return "", &mobilepush.PushError{Provider: "fcm", Status: resp.StatusCode, Reason: "token endpoint " + got.Error, Message: got.Description}
	case resp.StatusCode != http.StatusOK || got.AccessToken == "":
		return "", &mobilepush.PushError{Provider: "fcm", Status: resp.StatusCode, Reason: "token endpoint " + got.Error,
			Message: got.Description, Class: mobilepush.ErrUnauthorized}
	}
	life := time.Duration(got.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	p.mu.Lock()
	p.access, p.renewAt = got.AccessToken, now.Add(life-5*time.Minute)
	p.mu.Unlock()
	return got.AccessToken, nil
}

// forget drops the cached access token tok (FCM refused it).
func (p *Provider) forget(tok string) {
	p.mu.Lock()
	if p.access == tok {
		p.access = ""
	}
	p.mu.Unlock()
}

// Body is the request body pushing m to token.
func (p *Provider) Body(token string, m mobilepush.Message) ([]byte, error) {
	data := map[string]string{"events": m.EventsData()}
	if m.URL != "" {
		data["url"] = m.URL
	}
	android := map[string]any{"ttl": fmt.Sprintf("%ds", int64(p.cfg.TTL/time.Second))}
	if m.Tag != "" {
		android["collapse_key"] = m.Tag
		android["notification"] = map[string]string{"tag": m.Tag}
	}
	notification := map[string]string{"title": m.Title}
	if m.Body != "" {
		notification["body"] = m.Body
	}
	return json.Marshal(map[string]any{"message": map[string]any{"token": token, "notification": notification, "data": data, "android": android}})
}

// Push implements mobilepush.Provider: one POST (two when FCM refuses a
// cached access token).
func (p *Provider) Push(ctx context.Context, token string, m mobilepush.Message) error {
	body, err := p.Body(token, m)
	if err != nil {
		return &mobilepush.PushError{Provider: "fcm", Status: 400, Message: err.Error(), Class: mobilepush.ErrRejected}
	}
	for try := 0; ; try++ {
		access, err := p.accessToken(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.sendURL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := p.cfg.HTTPClient.Do(req)
		if err != nil {
			return &mobilepush.PushError{Provider: "fcm", Err: err}
		}
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		if resp.StatusCode == http.StatusUnauthorized && try == 0 {
			p.forget(access) // revoked or expired early: a new one, once
			continue
		}
		return p.refusal(resp, reply)
	}
}

// refusal classes an FCM error (see the package's doc).
func (p *Provider) refusal(resp *http.Response, body []byte) *mobilepush.PushError {
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type      string `json:"@type"`
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	reason := e.Error.Status
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			reason = d.ErrorCode
		}
	}
	pe := &mobilepush.PushError{Provider: "fcm", Status: resp.StatusCode, Reason: reason, Message: e.Error.Message}
	if d, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), p.cfg.Now()); ok {
		pe.RetryAfter = d
	}
	switch {
	case reason == "UNREGISTERED" || (resp.StatusCode == http.StatusNotFound && reason == "NOT_FOUND"):
		pe.Class = mobilepush.ErrGone
	case resp.StatusCode == http.StatusTooManyRequests || reason == "QUOTA_EXCEEDED":
		pe.Class = mobilepush.ErrRateLimited
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		reason == "SENDER_ID_MISMATCH" || reason == "THIRD_PARTY_AUTH_ERROR":
		pe.Class = mobilepush.ErrUnauthorized
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout:
		pe.Class = mobilepush.ErrRejected
	default:
		pe.Class = mobilepush.ErrUnavailable
	}
	return pe
}
