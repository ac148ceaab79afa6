package vonage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/sms"
)

// DefaultBaseURL is Vonage's SMS API host.
const DefaultBaseURL = "https://rest.nexmo.com"

// Path is the SMS API's endpoint (JSON answers).
const Path = "/sms/json"

// TenantParam is the query parameter of the delivery-receipt URL that
// names the message's tenant (as twilio.TenantParam).
const TenantParam = sms.TenantParam

// DefaultThrottleWait is Config.ThrottleWait's default.
const DefaultThrottleWait = time.Second

// Config configures a Provider. Zero fields take the documented defaults.
type Config struct {
	// APIKey is the account's API key. Required.
	APIKey string
	// APISecret authenticates the requests (api_secret); with
	// SignatureSecret set, the requests are signed instead (sig and
	// timestamp, no api_secret: Vonage refuses both, status 32). One of
	// the two is required.
	APISecret string
	// SignatureSecret and SignatureMethod sign the requests (the
	// dashboard's signature secret and its method). Default method
	// MD5Hash, Vonage's default.
	SignatureSecret string
	SignatureMethod SignatureMethod
	// From is the sender: a number (E.164, with or without "+") or an
	// alphanumeric sender ID. Required.
	From string
	// StatusCallback is the public URL of StatusHandler, where Vonage
	// posts each message's delivery receipts (the request's callback,
	// which overrides the dashboard's). Default "": the dashboard's
	// webhook, if any, without the tenant.
	StatusCallback string
	// BaseURL is the API's scheme and host. Default DefaultBaseURL; a
	// local server's in tests.
	BaseURL string
	// HTTPClient makes the requests. Default: a client with a 15s
	// timeout.
	HTTPClient *http.Client
	// ThrottleWait is how long a throttled answer (status 1, 10), which
	// names no wait, makes the sends wait. Default DefaultThrottleWait
	// (the SMS API's default limit is 30 requests a second).
	ThrottleWait time.Duration
	// Now is the clock of Retry-After dates and signed requests'
	// timestamps. Default time.Now.
	Now func() time.Time
}

// Provider sends text messages through Vonage's SMS API: an
// sms.Provider. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	endpoint string
	callback *url.URL
}

// New checks cfg and returns the provider.
func New(cfg Config) (*Provider, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "vonage.Config." + field, Reason: reason}
	}
	if cfg.APIKey == "" {
		return nil, bad("APIKey", "is empty")
	}
	if cfg.APISecret == "" && cfg.SignatureSecret == "" {
		return nil, bad("APISecret", "and SignatureSecret are empty: set one")
	}
	if cfg.SignatureMethod == "" {
		cfg.SignatureMethod = MD5Hash
	}
	if !cfg.SignatureMethod.valid() {
		return nil, bad("SignatureMethod", "is not one of md5hash, md5, sha1, sha256, sha512")
	}
	if cfg.From == "" {
		return nil, bad("From", "is empty")
	}
	p := &Provider{}
	cb, err := sms.CheckHTTP("vonage.Config.", cfg.StatusCallback, &cfg.BaseURL, DefaultBaseURL, &cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	p.callback = cb
	if cfg.ThrottleWait <= 0 {
		cfg.ThrottleWait = DefaultThrottleWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p.cfg = cfg
	p.endpoint = strings.TrimRight(cfg.BaseURL, "/") + Path
	return p, nil
}

// Name implements sms.Provider.
func (p *Provider) Name() string { return "vonage" }

// Form is the form of the request sending m: api_key, from, to (E.164
// without the "+", as Vonage takes it), text, type "unicode" when the text
// has a character outside the GSM 7-bit alphabet, callback (with the
// tenant) and client-ref (ClientRef of the tenant) when a StatusCallback
// is configured, and api_secret, or timestamp and sig when requests are
// signed.
func (p *Provider) Form(m sms.Message) url.Values {
	f := url.Values{"api_key": {p.cfg.APIKey}, "from": {strings.TrimPrefix(p.cfg.From, "+")},
		"to": {strings.TrimPrefix(m.To, "+")}, "text": {m.Body}}
	if !GSM(m.Body) {
		f.Set("type", "unicode")
	}
	if p.callback != nil {
		f.Set("callback", CallbackURL(p.callback, m.Tenant))
		if ref := ClientRef(m.Tenant); ref != "" {
			f.Set("client-ref", ref)
		}
	}
	if p.cfg.SignatureSecret == "" {
		f.Set("api_secret", p.cfg.APISecret)
		return f
	}
	f.Set("timestamp", strconv.FormatInt(p.cfg.Now().Unix(), 10))
	params := make(map[string]string, len(f))
	for k := range f {
		params[k] = f.Get(k)
	}
	f.Set(SignatureParam, Signature(p.cfg.SignatureMethod, p.cfg.SignatureSecret, params))
	return f
}

// CallbackURL is the delivery-receipt URL of a message of tenant: base
// with TenantParam set when tenant is not "".
func CallbackURL(base *url.URL, tenant string) string { return sms.CallbackURL(base, tenant) }

// ClientRef is the client-ref a message of tenant is sent with, which
// Vonage returns in its delivery receipts, inside what it signs: "t" and
// 32 hex digits of the SHA-256 of the tenant ("" for no tenant). A
// signed receipt's tenant (the callback URL's, which Vonage does not
// sign) must match it, so a receipt cannot be replayed into another
// tenant. The digest, not the name: client-ref holds 100 characters.
func ClientRef(tenant string) string {
	if tenant == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tenant))
	return "t" + hex.EncodeToString(sum[:16])
}

// answer is the SMS API's JSON answer.
type answer struct {
	MessageCount string       `json:"message-count"`
	Messages     []answerPart `json:"messages"`
}

// answerPart is one message of an answer (a long text is several).
type answerPart struct {
	To        string `json:"to"`
	MessageID string `json:"message-id"`
	Status    string `json:"status"`
	ErrorText string `json:"error-text"`
}

// Send implements sms.Provider: one POST (sms.PostForm).
func (p *Provider) Send(ctx context.Context, m sms.Message) (sms.Receipt, error) {
	resp, body, err := sms.PostForm(ctx, p.cfg.HTTPClient, "vonage", p.endpoint, p.Form(m), nil)
	if err != nil {
		return sms.Receipt{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return sms.Receipt{}, sms.HTTPRefusal("vonage", resp, body, p.cfg.Now(), p.cfg.ThrottleWait)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || len(a.Messages) == 0 {
		// Vonage answers every request it read with its JSON: this is
		// something else in its place (a proxy's page).
		return sms.Receipt{}, &sms.SendError{Provider: "vonage", Status: resp.StatusCode, Class: sms.ErrUnavailable,
			Message: "an answer that is not the SMS API's: " + strings.TrimSpace(string(body[:min(len(body), 200)]))}
	}
	for _, part := range a.Messages {
		if part.Status != "0" {
			return sms.Receipt{}, p.refusal(resp.StatusCode, part)
		}
	}
	return sms.Receipt{ID: a.Messages[0].MessageID, Status: "accepted"}, nil
}

// CodeClass is the class Send gives the SMS API's status code (see the
// package's doc): sms.ErrRejected for a code not listed there.
func CodeClass(code string) error {
	switch code {
	case "1", "10": // throttled; too many binds
		return sms.ErrRateLimited
	case "4", "8", "9", "11", "14", "15", "23", "32":
		// credentials, account barred, no credit, not enabled for HTTP,
		// signature, sender, callback URL, signature with a secret
		return sms.ErrUnauthorized
	case "5": // internal error
		return sms.ErrUnavailable
	case "6", "33": // unroutable number (an unknown prefix); number de-activated
		return sms.ErrGone
	case "7": // barred: on the account's list of numbers that texted STOP
		return sms.ErrOptedOut
	}
	// 2, 3, 12, 22: missing or invalid parameters, too long, network
	// code; 29: a demo account's destination not on its list.
	return sms.ErrRejected
}

// refusal classes a message the API refused with a non-zero status.
func (p *Provider) refusal(httpStatus int, part answerPart) *sms.SendError {
	se := &sms.SendError{Provider: "vonage", Status: httpStatus, Code: part.Status, Message: part.ErrorText}
	se.Class = CodeClass(part.Status)
	if se.Class == sms.ErrRateLimited {
		se.RetryAfter = p.cfg.ThrottleWait
	}
	return se
}

// String names the provider and key, never a secret.
func (p *Provider) String() string { return fmt.Sprintf("vonage(%s)", p.cfg.APIKey) }
