package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/sms"
)

// SignatureHeader is the header of Twilio's request signature.
const SignatureHeader = "X-Twilio-Signature"

// Signature is Twilio's signature of a request to fullURL (as Twilio
// called it, query included) with form params: base64 of the HMAC-SHA1,
// keyed with the auth token, of the URL followed by each parameter's name
// and value, sorted by name (and by value for a repeated name), without
// separators.
func Signature(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Status is one delivery report of a message.
type Status struct {
	MessageSID string `json:"message_sid"`
	AccountSID string `json:"account_sid"`
	To         string `json:"to"`
	From       string `json:"from"`
	// Status is Twilio's: queued, sending, sent, delivered, undelivered,
	// failed, ...
	Status string `json:"status"`
	// ErrorCode is Twilio's code of an undelivered or failed message
	// ("30005"), "" otherwise.
	ErrorCode string `json:"error_code,omitempty"`
	// Tenant is the message's tenant, from the callback URL.
	Tenant string `json:"tenant,omitempty"`
	// Removed is how many stored numbers the report removed (GoneCodes).
	Removed int64 `json:"removed"`
}

// StatusConfig configures a StatusHandler. Zero fields take the
// documented defaults.
type StatusConfig struct {
	// AuthToken checks the signatures (Config.AuthToken). Required.
	AuthToken string
	// URL is the handler's public URL, as given to Config.StatusCallback:
	// its scheme, host and path, with the query of each request, are
	// what Twilio signed (behind a proxy, r.URL does not know them).
	// Required.
	URL string
	// DB is where numbers that cannot receive are removed (device.Gone
	// in the message's tenant) and opted-out numbers suppressed.
	// Required.
	DB *gorm.DB
	// GoneCodes are the error codes of an undelivered or failed message
	// that remove its number. Default 30005 (unknown destination handset)
	// and 30006 (landline or unreachable carrier). 30003 (unreachable
	// handset) is left out by default: Twilio documents it as a phone
	// switched off or out of signal, which passes. 21610 (the number
	// opted out) always suppresses and removes it.
	GoneCodes []string
	// OnStatus is told every verified report (after any removal), to
	// record it. Default nil.
	OnStatus func(ctx context.Context, s Status)
	// Logger reports refused signatures and removals. Default
	// slog.Default().
	Logger *slog.Logger
}

// StatusHandler receives Twilio's delivery-status callbacks: an
// http.Handler answering 403 to a request without a valid
// X-Twilio-Signature, 200 otherwise.
type StatusHandler struct {
	cfg  StatusConfig
	base string // scheme://host/path of cfg.URL
}

// NewStatusHandler checks cfg and returns the handler.
func NewStatusHandler(cfg StatusConfig) (*StatusHandler, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "twilio.StatusConfig." + field, Reason: reason}
	}
	if cfg.AuthToken == "" {
		return nil, bad("AuthToken", "is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, bad("URL", "is not an absolute http(s) URL: the handler's public URL, as Twilio calls it")
	}
	if cfg.DB == nil {
		return nil, bad("DB", "is nil")
	}
	if cfg.GoneCodes == nil {
		cfg.GoneCodes = []string{"30005", "30006"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u.RawQuery, u.Fragment = "", ""
	return &StatusHandler{cfg: cfg, base: u.String()}, nil
}

// ServeHTTP implements http.Handler.
func (h *StatusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	full := h.base
	if r.URL.RawQuery != "" {
		full += "?" + r.URL.RawQuery
	}
	want := Signature(h.cfg.AuthToken, full, r.PostForm)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(SignatureHeader))) {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "twilio: status callback with a wrong signature refused", slog.String("remote", r.RemoteAddr))
		http.Error(w, "signature refused", http.StatusForbidden)
		return
	}
	f := r.PostForm
	st := Status{MessageSID: f.Get("MessageSid"), AccountSID: f.Get("AccountSid"), To: f.Get("To"), From: f.Get("From"),
		Status: f.Get("MessageStatus"), ErrorCode: f.Get("ErrorCode"), Tenant: r.URL.Query().Get(TenantParam)}
	if st.Status == "" {
		st.Status = f.Get("SmsStatus")
	}
	// Twilio sends neither a NUL nor invalid UTF-8; a number or tenant
	// with one cannot be stored as text, so the request is refused as bad
	// (a 5xx would ask for retries that fail the same way).
	if !storable(st.To) || !storable(st.Tenant) {
		http.Error(w, "bad number or tenant", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if st.Tenant != "" {
		ctx = activity.WithTenant(ctx, st.Tenant)
	}
	if (st.Status == "undelivered" || st.Status == "failed") && st.To != "" {
		refusal := sms.Kept
		switch {
		case st.ErrorCode == "21610":
			refusal = sms.OptedOut
		case slices.Contains(h.cfg.GoneCodes, st.ErrorCode):
			refusal = sms.Gone
		}
		var err error
		// A number the suppression list refuses (" ") is a 400: asking
		// Twilio to retry would fail the same way; Twilio retries a
		// callback that fails otherwise.
		if st.Removed, err = sms.NumberRefused(ctx, h.cfg.DB, st.To, refusal, "twilio", "status callback: error 21610"); sms.ReceiptError(w, err) {
			return
		}
		if st.Removed > 0 {
			h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "twilio: number cannot receive; removed", slog.String("message", st.MessageSID),
				slog.String("error_code", st.ErrorCode), slog.Int64("removed", st.Removed))
		}
	}
	if h.cfg.OnStatus != nil {
		h.cfg.OnStatus(ctx, st)
	}
	w.WriteHeader(http.StatusOK)
}

// storable reports whether PostgreSQL can hold s as text.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
