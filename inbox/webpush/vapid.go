package webpush

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// VAPID identifies the app to push services (RFC 8292): every push
// carries a JWT signed with its private key (ES256) naming the push
// service (aud), an expiry (exp) and a contact (sub), and its public key,
// the applicationServerKey a browser subscribed with. A subscription made
// with another key is refused by its push service (401 or 403).
//
// A VAPID signs one JWT per push service origin and reuses it until an
// hour before it expires (tokens live JWTTTL, 12 hours by default): the
// signature is not paid per message. It is safe for concurrent use.
type VAPID struct {
	priv    *ecdsa.PrivateKey
	public  string // base64url of the uncompressed public key
	subject string
	ttl     time.Duration
	now     func() time.Time

	mu     sync.Mutex
	tokens map[string]vapidToken // aud -> token
}

type vapidToken struct {
	header  string // "vapid t=..., k=..."
	renewAt time.Time
}

// VAPIDConfig configures a VAPID. Zero fields take the documented defaults.
type VAPIDConfig struct {
	// PublicKey is base64url of the uncompressed P-256 public key (65
	// bytes; what browsers take as applicationServerKey), PrivateKey
	// base64url of its 32-byte scalar: the format of GenerateVAPIDKeys and
	// of npm's web-push generate-vapid-keys. Required; PrivateKey is a
	// secret.
	PublicKey, PrivateKey string
	// Subject is the contact push services may use to reach the app's
	// operator: "mailto:ops@example.com" or an https URL. Required.
	Subject string
	// JWTTTL is how long each signed token is valid (its exp claim), at
	// most 24 hours (RFC 8292). Default 12 hours: a push service whose
	// clock runs ahead still accepts it.
	JWTTTL time.Duration
	// Now is the clock of exp. Default time.Now.
	Now func() time.Time
}

// GenerateVAPIDKeys returns a new key pair: base64url of the uncompressed
// public key and of the private scalar. Keep the private key secret and
// the pair stable: browsers' subscriptions are bound to the public key.
func GenerateVAPIDKeys() (publicKey, privateKey string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	raw, err := k.Bytes()
	if err != nil {
		return "", "", err
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(pub), base64.RawURLEncoding.EncodeToString(raw), nil
}

// NewVAPID checks cfg and returns the app's VAPID identity.
func NewVAPID(cfg VAPIDConfig) (*VAPID, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "webpush.VAPIDConfig." + field, Reason: reason}
	}
	raw, err := b64(cfg.PrivateKey)
	if err != nil || len(raw) != 32 {
		return nil, bad("PrivateKey", "is not base64url of a 32-byte P-256 private key (GenerateVAPIDKeys makes one)")
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, bad("PrivateKey", "is not a P-256 private key")
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, bad("PrivateKey", "is not a P-256 private key")
	}
	given, err := b64(cfg.PublicKey)
	if err != nil || len(given) != 65 {
		return nil, bad("PublicKey", "is not base64url of a 65-byte uncompressed P-256 public key")
	}
	if string(given) != string(pub) {
		return nil, bad("PublicKey", "is not the public key of PrivateKey")
	}
	switch {
	case strings.HasPrefix(cfg.Subject, "mailto:") && len(cfg.Subject) > len("mailto:"):
	case strings.HasPrefix(cfg.Subject, "https://"):
		if u, err := url.Parse(cfg.Subject); err != nil || u.Host == "" {
			return nil, bad("Subject", "is not an absolute https URL")
		}
	default:
		return nil, bad("Subject", "is neither a mailto: address nor an https URL: push services use it to reach the app's operator")
	}
	if cfg.JWTTTL == 0 {
		cfg.JWTTTL = 12 * time.Hour
	}
	if cfg.JWTTTL < 2*time.Hour || cfg.JWTTTL > 24*time.Hour {
		return nil, bad("JWTTTL", "must be between 2 and 24 hours (RFC 8292 caps it at 24)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &VAPID{priv: priv, public: base64.RawURLEncoding.EncodeToString(pub), subject: cfg.Subject,
		ttl: cfg.JWTTTL, now: cfg.Now, tokens: map[string]vapidToken{}}, nil
}

// PublicKey is the applicationServerKey browsers subscribe with
// (base64url of the uncompressed point).
func (v *VAPID) PublicKey() string { return v.public }

// Authorization returns the Authorization header of a push to endpoint:
// "vapid t=<JWT>, k=<public key>", the JWT's aud the endpoint's origin.
func (v *VAPID) Authorization(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("webpush: the endpoint is not an absolute URL")
	}
	aud := u.Scheme + "://" + u.Host
	now := v.now()
	v.mu.Lock()
	t, ok := v.tokens[aud]
	v.mu.Unlock()
	if ok && now.Before(t.renewAt) {
		return t.header, nil
	}
	jwt, err := v.sign(aud, now.Add(v.ttl))
	if err != nil {
		return "", err
	}
	t = vapidToken{header: "vapid t=" + jwt + ", k=" + v.public, renewAt: now.Add(v.ttl - time.Hour)}
	v.mu.Lock()
	if len(v.tokens) > 1000 { // origins are few (one per push service); bound it anyway
		clear(v.tokens)
	}
	v.tokens[aud] = t
	v.mu.Unlock()
	return t.header, nil
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))

// sign makes the ES256 JWT {aud, exp, sub}.
func (v *VAPID) sign(aud string, exp time.Time) (string, error) {
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{aud, exp.Unix(), v.subject})
	if err != nil {
		return "", err
	}
	input := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, v.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("webpush: sign the VAPID token: %w", err)
	}
	sig := make([]byte, 64) // JWS ES256: r and s, 32 bytes each, big-endian
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// b64 decodes base64url with or without padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
}
