// Package twilio is an sms.Provider speaking Twilio's Messages API
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded,
// HTTP basic auth), and the handler of its delivery-status callbacks
// (StatusHandler), with the standard library only: Twilio's Go SDK is a
// large generated client for every Twilio product, and a text message is
// one form post.
//
//	p, err := twilio.New(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: token,
//		From: "+14155550100", StatusCallback: "https://app.example.com/hooks/twilio/status"})
//	// give p to sms.NewInbox (sms.Config.Provider)
//	h, err := twilio.NewStatusHandler(twilio.StatusConfig{AuthToken: token,
//		URL: "https://app.example.com/hooks/twilio/status", DB: db})
//	http.Handle("/hooks/twilio/status", h)
//
// # Answers
//
// Twilio answers a refused message with an HTTP status and a JSON body
// {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
// Send classes it (sms.SendError.Class): 21610 (the number texted STOP)
// is sms.ErrOptedOut; 21211 (not a valid number), 21614 (not a mobile
// number) and 21635 (a landline) are sms.ErrGone; 20003, 401 and 403
// (wrong account or token) and 21606 (From cannot send SMS) are
// sms.ErrUnauthorized; 429 or 20429 is sms.ErrRateLimited with the
// Retry-After header's wait; another 4xx is sms.ErrRejected; 5xx and no
// answer are sms.ErrUnavailable.
//
// # Delivery reports
//
// With Config.StatusCallback every message asks Twilio to post its
// status changes there, the event's tenant in the URL's query (the URL is
// part of what Twilio signs). A StatusHandler checks X-Twilio-Signature
// (HMAC-SHA1 with the auth token over the URL and the sorted form
// parameters), tells the app (StatusConfig.OnStatus), and removes a
// number whose message failed for good in that tenant
// (StatusConfig.GoneCodes: 30005 unknown handset, 30006 landline or
// unreachable carrier).
package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/sms"
)

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// TenantParam is the query parameter of the status callback URL that
// names the message's tenant.
const TenantParam = sms.TenantParam

// Config configures a Provider. Zero fields take the documented defaults.
type Config struct {
	// AccountSID ("AC" and 32 hex digits) and AuthToken (a secret)
	// authenticate the requests. Required.
	AccountSID, AuthToken string
	// From is the sending number (E.164) or alphanumeric sender ID;
	// MessagingServiceSID ("MG...") sends through a messaging service
	// instead, which picks the number. Exactly one is required.
	From, MessagingServiceSID string
	// StatusCallback is the public URL of StatusHandler, where Twilio
	// posts each message's status changes. Default "": none asked for.
	StatusCallback string
	// BaseURL is the API's scheme and host. Default DefaultBaseURL; a
	// local server's in tests.
	BaseURL string
	// HTTPClient makes the requests. Default: a client with a 15s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock of Retry-After dates. Default time.Now.
	Now func() time.Time
}

// Provider sends text messages through Twilio: an sms.Provider. It is
// safe for concurrent use.
type Provider struct {
	cfg      Config
	endpoint string
	callback *url.URL
}

var (
	accountRE = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceRE = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// New checks cfg and returns the provider.
func New(cfg Config) (*Provider, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "twilio.Config." + field, Reason: reason}
	}
	if !accountRE.MatchString(cfg.AccountSID) {
		return nil, bad("AccountSID", "is not a Twilio account SID (AC and 32 hex digits)")
	}
	if cfg.AuthToken == "" {
		return nil, bad("AuthToken", "is empty")
	}
	switch {
	case (cfg.From == "") == (cfg.MessagingServiceSID == ""):
		return nil, bad("From", "and MessagingServiceSID: set exactly one")
	case cfg.MessagingServiceSID != "" && !serviceRE.MatchString(cfg.MessagingServiceSID):
		return nil, bad("MessagingServiceSID", "is not a messaging service SID (MG and 32 hex digits)")
	}
	p := &Provider{cfg: cfg}
	cb, err := sms.CheckHTTP("twilio.Config.", cfg.StatusCallback, &cfg.BaseURL, DefaultBaseURL, &cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	p.callback = cb
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p.cfg = cfg
	p.endpoint = strings.TrimRight(cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + cfg.AccountSID + "/Messages.json"
	return p, nil
}

// Name implements sms.Provider.
func (p *Provider) Name() string { return "twilio" }

// Form is the form of the request sending m: To, Body, From or
// MessagingServiceSid, and StatusCallback (with the tenant) when
// configured.
func (p *Provider) Form(m sms.Message) url.Values {
	f := url.Values{"To": {m.To}, "Body": {m.Body}}
	if p.cfg.MessagingServiceSID != "" {
		f.Set("MessagingServiceSid", p.cfg.MessagingServiceSID)
	} else {
		f.Set("From", p.cfg.From)
	}
	if p.callback != nil {
		f.Set("StatusCallback", CallbackURL(p.callback, m.Tenant))
	}
	return f
}

// CallbackURL is the status callback URL of a message of tenant: base
// with TenantParam set when tenant is not "".
func CallbackURL(base *url.URL, tenant string) string { return sms.CallbackURL(base, tenant) }

// apiError is Twilio's error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// message is the part of Twilio's Message resource Send reads.
type message struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

// Send implements sms.Provider: one POST (sms.PostForm).
func (p *Provider) Send(ctx context.Context, m sms.Message) (sms.Receipt, error) {
	resp, body, err := sms.PostForm(ctx, p.cfg.HTTPClient, "twilio", p.endpoint, p.Form(m),
		func(req *http.Request) { req.SetBasicAuth(p.cfg.AccountSID, p.cfg.AuthToken) })
	if err != nil {
		return sms.Receipt{}, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var msg message
		_ = json.Unmarshal(body, &msg)
		return sms.Receipt{ID: msg.SID, Status: msg.Status}, nil
	}
	return sms.Receipt{}, p.refusal(resp, body)
}

// refusal classes a refused request (see the package's doc): by
// Twilio's error code, else by the HTTP status (sms.HTTPRefusal).
func (p *Provider) refusal(resp *http.Response, body []byte) *sms.SendError {
	se := sms.HTTPRefusal("twilio", resp, body, p.cfg.Now(), 0)
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	if ae.Message != "" || resp.StatusCode < 400 {
		se.Message = ae.Message
	}
	if ae.Code != 0 {
		se.Code = strconv.Itoa(ae.Code)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests: // rate limited, by its status
	case ae.Code == 20429:
		se.Class = sms.ErrRateLimited
		if d, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), p.cfg.Now()); ok {
			se.RetryAfter = d
		}
	case ae.Code == 21610:
		se.Class = sms.ErrOptedOut
	case ae.Code == 21211 || ae.Code == 21614 || ae.Code == 21635:
		se.Class = sms.ErrGone
	case ae.Code == 20003 || ae.Code == 21606:
		se.Class = sms.ErrUnauthorized
	}
	return se
}

// String names the provider and account, never the token.
func (p *Provider) String() string { return fmt.Sprintf("twilio(%s)", p.cfg.AccountSID) }
