package vonage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
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

// OptedOutCode is the delivery receipt's err-code of a number whose owner
// asked not to get the sender's messages (9, "Illegal Number"): it is
// suppressed and removed.
const OptedOutCode = "9"

// Status is one delivery receipt (DLR) of a message.
type Status struct {
	// MessageID is Vonage's message-id of the message (messageId).
	MessageID string `json:"message_id"`
	// To is the recipient's number in E.164 ("+" and the receipt's
	// msisdn).
	To string `json:"to"`
	// From is the sender the message went out as (the receipt's "to").
	From string `json:"from"`
	// Status is Vonage's: delivered, expired, failed, rejected, accepted,
	// buffered or unknown.
	Status string `json:"status"`
	// ErrorCode is the receipt's err-code ("0" delivered, "3" absent
	// subscriber for good, ...).
	ErrorCode   string `json:"error_code,omitempty"`
	NetworkCode string `json:"network_code,omitempty"`
	Price       string `json:"price,omitempty"`
	// MessageTimestamp is when Vonage got the receipt from the carrier
	// ("2020-01-01 12:00:00", UTC).
	MessageTimestamp string `json:"message_timestamp,omitempty"`
	// Tenant is the message's tenant, from the callback URL.
	Tenant string `json:"tenant,omitempty"`
	// Removed is how many stored numbers the receipt removed.
	Removed int64 `json:"removed"`
}

// StatusConfig configures a StatusHandler. Zero fields take the
// documented defaults.
type StatusConfig struct {
	// SignatureSecret and SignatureMethod check the receipts' signatures
	// (the dashboard's signature secret and method; Vonage signs the SMS
	// API's webhooks once signing is enabled on the account). Default
	// method MD5Hash. Required unless Unsigned.
	SignatureSecret string
	SignatureMethod SignatureMethod
	// Unsigned takes receipts without a signature: anyone who finds the
	// URL can then remove numbers with a forged receipt. Default false.
	Unsigned bool
	// DB is where numbers that cannot receive are removed (device.Gone
	// in the message's tenant) and opted-out ones suppressed. Required.
	DB *gorm.DB
	// GoneCodes are the err-codes of an undelivered (failed, rejected or
	// expired) message that remove its number. Default "3" (absent
	// subscriber, permanent: the number is no longer active) and "4"
	// (call barred by the user). OptedOutCode ("9") always suppresses
	// and removes it.
	GoneCodes []string
	// OnStatus is told every verified receipt (after any removal), to
	// record it. Default nil.
	OnStatus func(ctx context.Context, s Status)
	// Logger reports refused signatures and removals. Default
	// slog.Default().
	Logger *slog.Logger
}

// StatusHandler receives Vonage's SMS delivery receipts, as a GET query,
// a POST form or a POST JSON object (the dashboard's three webhook
// methods): an http.Handler answering 400 to a receipt it cannot read or
// store, 403 to one without a valid signature, 200 otherwise.
type StatusHandler struct {
	cfg StatusConfig
}

// NewStatusHandler checks cfg and returns the handler.
func NewStatusHandler(cfg StatusConfig) (*StatusHandler, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "vonage.StatusConfig." + field, Reason: reason}
	}
	if cfg.SignatureSecret == "" && !cfg.Unsigned {
		return nil, bad("SignatureSecret", "is empty: set it, or Unsigned to take receipts anyone can forge")
	}
	if cfg.SignatureMethod == "" {
		cfg.SignatureMethod = MD5Hash
	}
	if !cfg.SignatureMethod.valid() {
		return nil, bad("SignatureMethod", "is not one of md5hash, md5, sha1, sha256, sha512")
	}
	if cfg.DB == nil {
		return nil, bad("DB", "is nil")
	}
	if cfg.GoneCodes == nil {
		cfg.GoneCodes = []string{"3", "4"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &StatusHandler{cfg: cfg}, nil
}

// errBadReceipt is a receipt the handler cannot read.
var errBadReceipt = errors.New("bad receipt")

// params reads the receipt's parameters, one value each: the query of a
// GET (less TenantParam), the form or JSON object of a POST.
func params(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	var vs url.Values
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); {
	case r.Method == http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, errBadReceipt
		}
		delete(q, TenantParam)
		vs = q
	case ct == "application/json":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			return nil, errBadReceipt
		}
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, errBadReceipt
		}
		out := make(map[string]string, len(obj))
		for k, v := range obj {
			s, ok := v.(string)
			if !ok {
				return nil, errBadReceipt // Vonage's receipts hold strings only
			}
			out[k] = s
		}
		return out, nil
	default:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return nil, errBadReceipt
		}
		vs = r.PostForm
	}
	out := make(map[string]string, len(vs))
	for k, v := range vs {
		if len(v) != 1 {
			return nil, errBadReceipt // Vonage sends each parameter once
		}
		out[k] = v[0]
	}
	return out, nil
}

// tenantOf is the request's TenantParam: "" when absent, an error when
// the query is malformed or names it twice.
func tenantOf(r *http.Request) (string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q[TenantParam]) > 1 {
		return "", errBadReceipt
	}
	return q.Get(TenantParam), nil
}

// ServeHTTP implements http.Handler.
func (h *StatusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		return
	}
	tenant, err := tenantOf(r)
	if err != nil {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	p, err := params(w, r)
	if err != nil {
		http.Error(w, "bad receipt", http.StatusBadRequest)
		return
	}
	if !h.cfg.Unsigned {
		if !SignatureValid(h.cfg.SignatureMethod, h.cfg.SignatureSecret, p, p[SignatureParam]) {
			h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "vonage: delivery receipt with a wrong signature refused", slog.String("remote", r.RemoteAddr))
			http.Error(w, "signature refused", http.StatusForbidden)
			return
		}
		// The callback URL's tenant is not signed; the client-ref it was
		// sent with is.
		if p["client-ref"] != ClientRef(tenant) {
			h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "vonage: signed delivery receipt for another tenant refused", slog.String("remote", r.RemoteAddr))
			http.Error(w, "tenant refused", http.StatusForbidden)
			return
		}
	}
	st := Status{MessageID: p["messageId"], From: p["to"], Status: p["status"], ErrorCode: p["err-code"],
		NetworkCode: p["network-code"], Price: p["price"], MessageTimestamp: p["message-timestamp"], Tenant: tenant}
	if n := p["msisdn"]; n != "" {
		st.To = "+" + strings.TrimPrefix(n, "+")
	}
	// Vonage sends neither a NUL nor invalid UTF-8; a number or tenant
	// with one cannot be stored as text, so the receipt is refused as bad
	// (a 5xx would ask for retries that fail the same way).
	if !storable(st.To) || !storable(st.Tenant) {
		http.Error(w, "bad number or tenant", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if st.Tenant != "" {
		ctx = activity.WithTenant(ctx, st.Tenant)
	}
	if Undelivered(st.Status) && st.To != "" {
		refusal := sms.Kept
		switch {
		case st.ErrorCode == OptedOutCode:
			refusal = sms.OptedOut
		case slices.Contains(h.cfg.GoneCodes, st.ErrorCode):
			refusal = sms.Gone
		}
		var err error
		// Vonage retries a receipt that fails: the removal is tried again.
		if st.Removed, err = sms.NumberRefused(ctx, h.cfg.DB, st.To, refusal, "vonage", "delivery receipt: err-code 9 (illegal number: opted out)"); sms.ReceiptError(w, err) {
			return
		}
		if st.Removed > 0 {
			h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "vonage: number cannot receive; removed", slog.String("message", st.MessageID),
				slog.String("error_code", st.ErrorCode), slog.Int64("removed", st.Removed))
		}
	}
	if h.cfg.OnStatus != nil {
		h.cfg.OnStatus(ctx, st)
	}
	w.WriteHeader(http.StatusOK)
}

// Undelivered reports whether a receipt's status says the message did
// not reach the handset for good: failed, rejected or expired.
func Undelivered(status string) bool {
	return status == "failed" || status == "rejected" || status == "expired"
}

// storable reports whether PostgreSQL can hold s as text.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
