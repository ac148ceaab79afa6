package device

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the channel an address belongs to.
type Kind string

// The kinds of address the store keeps.
const (
	// WebPush is a browser's push subscription (RFC 8030): Address is
	// its endpoint URL, P256dh and Auth its keys (RFC 8291).
	WebPush Kind = "webpush"
	// FCM is a Firebase Cloud Messaging registration token.
	FCM Kind = "fcm"
	// APNs is an Apple Push Notification service device token (hex).
	APNs Kind = "apns"
	// Phone is a phone number in E.164 form ("+14155550100"), for SMS.
	Phone Kind = "phone"
)

// Kinds lists the kinds of address the store keeps.
func Kinds() []Kind { return []Kind{WebPush, FCM, APNs, Phone} }

// exclusive reports whether an address of kind k reaches one person at a
// time: a browser's push subscription or a phone's app token belongs to
// whoever signed in on it last, so registering it for a person removes it
// from anyone else of the tenant (they signed out, or the device changed
// hands). A phone number may be shared (a household, an on-call phone).
func (k Kind) exclusive() bool { return k == WebPush || k == FCM || k == APNs }

// Address is one way to reach a person outside the app.
type Address struct {
	ID int64 `json:"id"`
	// Tenant is the tenant the address belongs to (from the context of
	// Register); "" when untenanted.
	Tenant string `json:"tenant,omitempty"`
	// Recipient is the person's key, as inboxes store recipients ("7").
	Recipient string `json:"recipient"`
	Kind      Kind   `json:"kind"`
	// Address is the web push endpoint (an https URL), the FCM or APNs
	// token, or the E.164 phone number.
	Address string `json:"address"`
	// P256dh and Auth are a web push subscription's keys, base64url as the
	// browser's PushSubscription.toJSON() gives them: the user agent's
	// P-256 public key (65 bytes, uncompressed) and the 16-byte
	// authentication secret. Empty for the other kinds.
	P256dh string `json:"p256dh,omitempty"`
	Auth   string `json:"auth,omitempty"`
	// Label names the device for the person ("Firefox on Linux"). Optional.
	Label     string    `json:"label,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrInvalid is matched (errors.Is) by every *InvalidError: an address
// that cannot be stored.
var ErrInvalid = errors.New("device: invalid address")

// InvalidError reports the field of an Address that cannot be stored, and
// why. Register returns it before any write. Reason is English; Code
// names the rule broken, for a page to say it in the reader's words:
//
//	"empty"         the field is empty
//	"too_long"      Size bytes, over Max
//	"encoding"      not valid UTF-8, or a NUL byte
//	"webpush_only"  P256dh and Auth given for another kind
//	"endpoint"      not an https push service endpoint
//	"p256dh"        not base64url of a 65-byte P-256 key
//	"p256dh_point"  not a point on P-256
//	"auth"          not base64url of a 16-byte secret
//	"fcm", "apns", "phone"  not a token or number of that kind
//	"kind"          not one of the kinds
type InvalidError struct {
	Field, Reason string
	Code          string
	Size, Max     int // for "too_long"
}

func (e *InvalidError) Error() string        { return "device: Address." + e.Field + " " + e.Reason }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Limits of the stored fields, in bytes.
const (
	MaxRecipient = 200
	MaxAddress   = 2048 // endpoints and tokens; FCM tokens are ~160, endpoints a few hundred
	MaxLabel     = 200
)

var (
	e164     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	tokenRE  = regexp.MustCompile(`^[A-Za-z0-9_:.\-]+$`)
	apnsRE   = regexp.MustCompile(`^[0-9a-fA-F]{64,200}$`)
	spacesRE = regexp.MustCompile(`[\s\-().]`)
)

func text(field, v string, max int, required bool) error {
	switch {
	case required && v == "":
		return &InvalidError{Field: field, Code: "empty", Reason: "is empty"}
	case len(v) > max:
		return &InvalidError{Field: field, Code: "too_long", Size: len(v), Max: max, Reason: fmt.Sprintf("is %d bytes: at most %d", len(v), max)}
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return &InvalidError{Field: field, Code: "encoding", Reason: "is not valid UTF-8 without NUL bytes"}
	}
	return nil
}

// Normalize returns a checked and normalized: a phone number without
// spaces, dashes, dots and brackets, an APNs token in lower case, an
// endpoint as given. Register calls it; an *InvalidError says what is
// wrong.
func (a Address) Normalize() (Address, error) {
	if err := text("Recipient", a.Recipient, MaxRecipient, true); err != nil {
		return a, err
	}
	if err := text("Label", a.Label, MaxLabel, false); err != nil {
		return a, err
	}
	a.Address = strings.TrimSpace(a.Address)
	if err := text("Address", a.Address, MaxAddress, true); err != nil {
		return a, err
	}
	if a.Kind != WebPush && (a.P256dh != "" || a.Auth != "") {
		return a, &InvalidError{Field: "P256dh", Code: "webpush_only", Reason: "and Auth are for web push subscriptions only"}
	}
	switch a.Kind {
	case WebPush:
		u, err := url.Parse(a.Address)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
			return a, &InvalidError{Field: "Address", Code: "endpoint", Reason: "is not a push service endpoint: an https URL without user info or fragment"}
		}
		if _, err := PublicKey(a.P256dh); err != nil {
			return a, err
		}
		if _, err := AuthSecret(a.Auth); err != nil {
			return a, err
		}
	case FCM:
		if !tokenRE.MatchString(a.Address) {
			return a, &InvalidError{Field: "Address", Code: "fcm", Reason: "is not an FCM registration token (letters, digits, _ : . -)"}
		}
	case APNs:
		if !apnsRE.MatchString(a.Address) {
			return a, &InvalidError{Field: "Address", Code: "apns", Reason: "is not an APNs device token (64 to 200 hex digits)"}
		}
		a.Address = strings.ToLower(a.Address)
	case Phone:
		n := spacesRE.ReplaceAllString(a.Address, "")
		if !e164.MatchString(n) {
			return a, &InvalidError{Field: "Address", Code: "phone", Reason: fmt.Sprintf("%.40q is not a phone number in E.164 form (+ country code and number, 8 to 16 digits: +14155550100)", a.Address)}
		}
		a.Address = n
	default:
		return a, &InvalidError{Field: "Kind", Code: "kind", Reason: fmt.Sprintf("%.40q is not one of webpush, fcm, apns, phone", string(a.Kind))}
	}
	return a, nil
}

// b64 decodes base64url with or without padding (browsers send it
// without; some libraries with).
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// PublicKey decodes a web push subscription's p256dh key: base64url of an
// uncompressed P-256 point.
func PublicKey(p256dh string) (*ecdh.PublicKey, error) {
	raw, err := b64(p256dh)
	if err != nil || len(raw) != 65 {
		return nil, &InvalidError{Field: "P256dh", Code: "p256dh", Reason: "is not base64url of a 65-byte uncompressed P-256 public key"}
	}
	k, err := ecdh.P256().NewPublicKey(raw)
	if err != nil {
		return nil, &InvalidError{Field: "P256dh", Code: "p256dh_point", Reason: "is not a point on P-256"}
	}
	return k, nil
}

// AuthSecret decodes a web push subscription's auth secret: base64url of
// 16 bytes.
func AuthSecret(auth string) ([]byte, error) {
	raw, err := b64(auth)
	if err != nil || len(raw) != 16 {
		return nil, &InvalidError{Field: "Auth", Code: "auth", Reason: "is not base64url of a 16-byte authentication secret"}
	}
	return raw, nil
}
