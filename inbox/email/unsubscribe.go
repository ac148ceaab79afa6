package email

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// ErrInvalidLink matches an unsubscribe link whose signature does not
// verify, or that lacks a field.
var ErrInvalidLink = errors.New("email: invalid unsubscribe link")

// Scope is what the unsubscribe link of a mail about one event mutes.
type Scope int

const (
	// ScopeAction mutes the event's action in its domain ("comment added
	// on issues"). The default.
	ScopeAction Scope = iota
	// ScopeSubject mutes every mail about the event's subject ("issue 42").
	ScopeSubject
	// ScopeDomain mutes every action of the event's domain.
	ScopeDomain
)

// subjectPrefix starts the action column of a subject mute.
const subjectPrefix = "subject:"

// SubjectAction returns the preference action that mutes one subject:
// "subject:42". notification_preferences has no subject column, so a mute
// of a subject is the row (recipient, channel, domain, "subject:42"). The
// email inbox honours it; the in-app inbox does not look for it.
func SubjectAction(subjectID string) string { return inbox.SubjectAction(subjectID) }

// Unsubscription is what one link mutes: Recipient's mail on Channel about
// Action of each of Domains. Action is an action, inbox.AnyAction, or a
// SubjectAction.
type Unsubscription struct {
	Recipient string
	Channel   string
	Domains   []string
	Action    string
	// Tenant is the tenant whose preferences the link changes: the
	// mail's event's ("" when untenanted). It is signed with the rest, so
	// a link cannot be turned into one for another tenant.
	Tenant string
}

// Describe says in words what u mutes: "comment added on issue",
// "issue 42", "every issue and project mail".
func (u Unsubscription) Describe() string {
	doms := make([]string, len(u.Domains))
	for i, d := range u.Domains {
		doms[i] = humanize(d)
	}
	switch {
	case u.Action == inbox.AnyAction:
		return "every " + joinAnd(doms) + " mail"
	case strings.HasPrefix(u.Action, subjectPrefix):
		return joinAnd(doms) + " " + strings.TrimPrefix(u.Action, subjectPrefix)
	}
	return humanize(u.Action) + " on " + joinAnd(doms)
}

func (u Unsubscription) validate() error {
	switch {
	case u.Recipient == "":
		return fmt.Errorf("%w: no recipient", ErrInvalidLink)
	case u.Channel == "":
		return fmt.Errorf("%w: no channel", ErrInvalidLink)
	case len(u.Domains) == 0 || slices.Contains(u.Domains, ""):
		return fmt.Errorf("%w: no domain", ErrInvalidLink)
	case u.Action == "":
		return fmt.Errorf("%w: no action", ErrInvalidLink)
	}
	return nil
}

// UnsubscribeConfig configures an UnsubscribeHandler.
type UnsubscribeConfig struct {
	// BaseURL is the absolute URL the handler is served at,
	// "https://app.example.com/unsubscribe": links are BaseURL plus a
	// signed query. https, or http on localhost for dev mode. Required.
	BaseURL string
	// Secrets are HMAC-SHA256 keys of at least 32 bytes. The first signs
	// new links; every one verifies, so a key can be rotated without
	// breaking the links in mails already sent. Required.
	Secrets [][]byte
	// DB is where mutes are written (notification_preferences, through
	// inbox.Mute). Required.
	DB *gorm.DB
	// Channel is the preference channel the links mute. Default
	// inbox.ChannelEmail.
	Channel string
	// Scope is what a per-event mail's link mutes. Default ScopeAction.
	Scope Scope
	// DigestDomains are muted (every action) by a digest's link. Without
	// them digests carry no List-Unsubscribe header.
	DigestDomains []string
	// PreferencesURL is the app's preference page (package
	// web/preferences). When set, the confirmation page's button lands
	// there after muting (303, with ?unsubscribed=<what>), and the pages
	// link to it. A mail client's one-click POST still gets 200. Default:
	// none.
	PreferencesURL string
	// Page renders the confirmation and result pages from an
	// UnsubscribePage. Default: a plain built-in page.
	Page *htmltemplate.Template
	// Logger reports failed writes. Default slog.Default().
	Logger *slog.Logger
}

// UnsubscribeHandler serves one-click unsubscribe links (RFC 8058).
//
// The link is BaseURL?r=recipient&c=channel&d=domain&a=action&t=signature.
// A POST with the body List-Unsubscribe=One-Click (what a mail client sends
// for List-Unsubscribe-Post, and what the confirmation page's button sends)
// writes the mute and answers a page saying so. A GET only shows that page
// with the button: it changes nothing, so a link scanner or a prefetching
// mail client that follows the link unsubscribes nobody. A link whose
// signature does not verify is refused with 403 and changes nothing.
//
// Its UnsubscribeURL method is a BuilderConfig.Unsubscribe.
type UnsubscribeHandler struct {
	cfg  UnsubscribeConfig
	base *url.URL
	page *htmltemplate.Template
	log  *slog.Logger
}

// UnsubscribePage is what the page template sees.
type UnsubscribePage struct {
	// State is "confirm" (GET: the button), "done" (POST: muted),
	// "invalid" (a bad link) or "error" (the mute could not be written).
	State string
	// What says what the link mutes, "comment added on issue".
	What string
	// Action is the URL the confirmation form posts to.
	Action string
	// Preferences is UnsubscribeConfig.PreferencesURL.
	Preferences string
}

const minSecretBytes = 32

// NewUnsubscribeHandler checks cfg and returns a handler.
func NewUnsubscribeHandler(cfg UnsubscribeConfig) (*UnsubscribeHandler, error) {
	if cfg.DB == nil {
		return nil, fmt.Errorf("%w: UnsubscribeConfig.DB is nil; mutes are written to notification_preferences", ErrInvalidConfig)
	}
	if err := checkUnsubscribeURL(cfg.BaseURL); err != nil {
		return nil, err
	}
	base, _ := url.Parse(cfg.BaseURL)
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("%w: UnsubscribeConfig.BaseURL %q must have no query or fragment; the handler adds the query", ErrInvalidConfig, cfg.BaseURL)
	}
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("%w: UnsubscribeConfig.Secrets is empty; give at least one random key of %d bytes or more", ErrInvalidConfig, minSecretBytes)
	}
	for i, s := range cfg.Secrets {
		if len(s) < minSecretBytes {
			return nil, fmt.Errorf("%w: UnsubscribeConfig.Secrets[%d] has %d bytes; use at least %d random bytes", ErrInvalidConfig, i, len(s), minSecretBytes)
		}
	}
	if cfg.Channel == "" {
		cfg.Channel = inbox.ChannelEmail
	}
	if cfg.Scope < ScopeAction || cfg.Scope > ScopeDomain {
		return nil, fmt.Errorf("%w: UnsubscribeConfig.Scope %d is not ScopeAction, ScopeSubject or ScopeDomain", ErrInvalidConfig, cfg.Scope)
	}
	if slices.Contains(cfg.DigestDomains, "") {
		return nil, fmt.Errorf("%w: UnsubscribeConfig.DigestDomains holds an empty domain", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	page := cfg.Page
	if page == nil {
		page = htmltemplate.Must(htmltemplate.New("unsubscribe").Parse(defaultUnsubscribePage))
	}
	return &UnsubscribeHandler{cfg: cfg, base: base, page: page, log: cfg.Logger}, nil
}

// URL returns the signed link that mutes u.
func (h *UnsubscribeHandler) URL(u Unsubscription) (string, error) {
	if err := u.validate(); err != nil {
		return "", err
	}
	q := url.Values{"r": {u.Recipient}, "c": {u.Channel}, "d": u.Domains, "a": {u.Action}}
	if u.Tenant != "" {
		q.Set("o", u.Tenant)
	}
	q.Set("t", sign(h.cfg.Secrets[0], u))
	link := *h.base
	link.RawQuery = q.Encode()
	return link.String(), nil
}

// UnsubscribeURL is a BuilderConfig.Unsubscribe: the link for a mail to to
// about ev mutes what UnsubscribeConfig.Scope says on the handler's
// channel; for a digest (ev nil) it mutes every action of DigestDomains,
// or there is no link when those are not set.
func (h *UnsubscribeHandler) UnsubscribeURL(ctx context.Context, to Recipient, ev *activity.Event) (string, error) {
	if to.ID == "" {
		return "", fmt.Errorf("%w: recipient %q has no ID; preferences are keyed by it", ErrInvalidRecipient, to.Email)
	}
	u := Unsubscription{Recipient: to.ID, Channel: h.cfg.Channel, Tenant: inbox.TenantOf(ctx)}
	if ev != nil {
		u.Tenant = ev.TenantID
	}
	switch {
	case ev == nil && len(h.cfg.DigestDomains) == 0:
		return "", nil
	case ev == nil:
		u.Domains, u.Action = h.cfg.DigestDomains, inbox.AnyAction
	default:
		u.Domains = []string{ev.Domain}
		switch h.cfg.Scope {
		case ScopeAction:
			u.Action = ev.Action
		case ScopeSubject:
			u.Action = SubjectAction(ev.SubjectID)
		case ScopeDomain:
			u.Action = inbox.AnyAction
		}
	}
	return h.URL(u)
}

// Verify reads and checks the link's query.
func (h *UnsubscribeHandler) Verify(q url.Values) (Unsubscription, error) {
	u := Unsubscription{Recipient: q.Get("r"), Channel: q.Get("c"), Domains: q["d"], Action: q.Get("a"), Tenant: q.Get("o")}
	if err := u.validate(); err != nil {
		return Unsubscription{}, err
	}
	got, err := base64.RawURLEncoding.DecodeString(q.Get("t"))
	if err != nil || len(got) != sha256.Size {
		return Unsubscription{}, fmt.Errorf("%w: the signature is missing or malformed", ErrInvalidLink)
	}
	for _, s := range h.cfg.Secrets {
		if hmac.Equal(got, mac(s, u)) {
			return u, nil
		}
	}
	return Unsubscription{}, fmt.Errorf("%w: the signature does not match (altered link, or signed with a retired key)", ErrInvalidLink)
}

// ServeHTTP implements http.Handler: GET and HEAD show the confirmation
// page, POST with List-Unsubscribe=One-Click mutes.
func (h *UnsubscribeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL is a credential
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.render(w, http.StatusMethodNotAllowed, UnsubscribePage{State: "invalid"})
		return
	}
	u, err := h.Verify(r.URL.Query())
	if err != nil {
		h.render(w, http.StatusForbidden, UnsubscribePage{State: "invalid"})
		return
	}
	page := UnsubscribePage{What: u.Describe(), Action: "?" + r.URL.RawQuery, Preferences: h.cfg.PreferencesURL}
	if r.Method != http.MethodPost {
		page.State = "confirm"
		h.render(w, http.StatusOK, page)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if r.PostFormValue("List-Unsubscribe") != "One-Click" {
		page.State = "confirm"
		h.render(w, http.StatusBadRequest, page)
		return
	}
	if err := h.Mute(r.Context(), u); err != nil {
		h.log.ErrorContext(r.Context(), "email: unsubscribe failed", "recipient", u.Recipient, "what", page.What, "error", err)
		page.State = "error"
		h.render(w, http.StatusInternalServerError, page)
		return
	}
	page.State = "done"
	if h.cfg.PreferencesURL != "" && r.PostFormValue("landing") == "preferences" {
		// A person in a browser: show them everything they get.
		sep := "?"
		if strings.Contains(h.cfg.PreferencesURL, "?") {
			sep = "&"
		}
		http.Redirect(w, r, h.cfg.PreferencesURL+sep+url.Values{"unsubscribed": {page.What}}.Encode(), http.StatusSeeOther)
		return
	}
	h.render(w, http.StatusOK, page)
}

// Mute writes u into notification_preferences, one row per domain, in one
// transaction. Muting twice is harmless.
func (h *UnsubscribeHandler) Mute(ctx context.Context, u Unsubscription) error {
	// The link's tenant, never the request's: a link mutes in the tenant
	// its mail came from.
	ctx = activity.WithTenant(ctx, u.Tenant)
	return h.cfg.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, d := range u.Domains {
			if err := inbox.Mute(ctx, tx, u.Recipient, u.Channel, d, u.Action); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *UnsubscribeHandler) render(w http.ResponseWriter, status int, p UnsubscribePage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.page.Execute(w, p); err != nil {
		h.log.Error("email: render unsubscribe page", "error", err)
	}
}

// mac is HMAC-SHA256 over the link's fields, each length-prefixed so no
// two different links share an input.
func mac(secret []byte, u Unsubscription) []byte {
	m := hmac.New(sha256.New, secret)
	var n [binary.MaxVarintLen64]byte
	field := func(s string) {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		m.Write([]byte(s))
	}
	field("tidings-unsubscribe-v1")
	field(u.Recipient)
	field(u.Channel)
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(u.Domains)))])
	for _, d := range u.Domains {
		field(d)
	}
	field(u.Action)
	if u.Tenant != "" { // links without a tenant sign as before
		field("tenant")
		field(u.Tenant)
	}
	return m.Sum(nil)
}

func sign(secret []byte, u Unsubscription) string {
	return base64.RawURLEncoding.EncodeToString(mac(secret, u))
}

const defaultUnsubscribePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">
{{- if eq .State "confirm"}}
<h1>Unsubscribe?</h1>
<p>You will no longer get mails about <strong>{{.What}}</strong>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
{{- if .Preferences}}<input type="hidden" name="landing" value="preferences">{{end}}
<button type="submit">Unsubscribe</button>
</form>
{{- with .Preferences}}<p><a href="{{.}}">Manage all your notification preferences</a></p>{{end}}
{{- else if eq .State "done"}}
<h1>Unsubscribed</h1>
<p>You will no longer get mails about <strong>{{.What}}</strong>.</p>
{{- with .Preferences}}<p><a href="{{.}}">Manage all your notification preferences</a></p>{{end}}
{{- else if eq .State "error"}}
<h1>Something went wrong</h1>
<p>We could not unsubscribe you just now. Please try again in a minute.</p>
{{- else}}
<h1>This link does not work</h1>
<p>It may have been cut or changed. Use the link in a recent mail.</p>
{{- end}}
</body></html>
`
