package workflow

import (
	"net/netip"
	"time"

	"github.com/tidingsdev/tidings/inbox/webhook"
)

// The webhook action's transport lives in package inbox/webhook, below
// both workflow and inbox, so domain-wide webhook subscriptions (an inbox)
// share it. These names keep the workflow API of earlier versions.
type (
	// HostResolver is webhook.HostResolver.
	HostResolver = webhook.HostResolver
	// WebhookConfig is webhook.Config.
	WebhookConfig = webhook.Config
	// WebhookClient is webhook.Client: https to public addresses only.
	WebhookClient = webhook.Client
	// WebhookURLError is webhook.URLError.
	WebhookURLError = webhook.URLError
	// WebhookRequest is webhook.Request.
	WebhookRequest = webhook.Request
	// WebhookResponse is webhook.Response.
	WebhookResponse = webhook.Response
	// WebhookError is webhook.Error.
	WebhookError = webhook.Error
	// AddressError is webhook.AddressError.
	AddressError = webhook.AddressError
)

// Errors and limits of the webhook transport (see package inbox/webhook).
var (
	ErrInvalidWebhookURL = webhook.ErrInvalidURL
	ErrWebhookFailed     = webhook.ErrFailed
	ErrForbiddenAddress  = webhook.ErrForbiddenAddress
	ErrInvalidSignature  = webhook.ErrInvalidSignature
)

// Defaults of WebhookConfig (see package inbox/webhook).
const (
	DefaultWebhookTimeout          = webhook.DefaultTimeout
	DefaultWebhookDialTimeout      = webhook.DefaultDialTimeout
	DefaultWebhookMaxRedirects     = webhook.DefaultMaxRedirects
	DefaultWebhookMaxRequestBytes  = webhook.DefaultMaxRequestBytes
	DefaultWebhookMaxResponseBytes = webhook.DefaultMaxResponseBytes
	MaxWebhookURLLength            = webhook.MaxURLLength
	SignatureHeader                = webhook.SignatureHeader
	TimestampHeader                = webhook.TimestampHeader
)

// NewWebhookClient is webhook.NewClient.
func NewWebhookClient(cfg WebhookConfig) *WebhookClient { return webhook.NewClient(cfg) }

// PublicOnly is webhook.PublicOnly.
func PublicOnly(ap netip.AddrPort) error { return webhook.PublicOnly(ap) }

// Sign is webhook.Sign.
func Sign(secret []byte, ts time.Time, body []byte) string { return webhook.Sign(secret, ts, body) }

// VerifySignature is webhook.VerifySignature.
func VerifySignature(secret []byte, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	return webhook.VerifySignature(secret, signature, timestamp, body, now, tolerance)
}
