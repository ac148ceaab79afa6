package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/tidingsdev/tidings/inbox"
)

// Misconfigured returns why the failure refuses the setup rather than
// being an outage or a refusal of this one request, "" when it does not:
// every delivery to that URL would fail the same way until someone changes
// the URL, the secret, the receiver or its certificate. A caller returns
// it to the worker as an inbox.MisconfiguredError (inbox.Misconfigured,
// with this reason, in the library's words and without the URL), so the
// delivery fails at once (a dead letter saying why), the worker's breaker
// records the reason and health reports the sink down until it answers
// again; Subscriptions does so with the URL's Sink. The kinds of failure:
//
//   - the setup: 401 or 403 (the receiver refuses our requests: its
//     authorization, the signing secret), 404 or 410 (no endpoint at this
//     URL), a certificate the client does not trust, a TLS handshake the
//     receiver refuses or a port that does not speak TLS, a URL or a
//     redirect to an address webhooks may not reach (not https, not
//     public), redirects past MaxRedirects;
//   - an outage (an inbox.UnreachableError in Err, which the worker's
//     breaker counts): no answer (refused connection, timeout, DNS
//     failure), 502, 503, 504;
//   - retried with the backoff: another 5xx, 408, 429 (Retryable);
//   - this request only: another 4xx.
func (e *Error) Misconfigured() string {
	if e.StatusCode != 0 {
		return misconfiguredStatus(e.StatusCode)
	}
	if e.Err == nil {
		return ""
	}
	return misconfiguredTransport(e.Err)
}

// Misconfigured returns err as an inbox.MisconfiguredError of sink when it
// is (or wraps) an *Error whose Misconfigured method says why, and nil
// otherwise.
func Misconfigured(sink string, err error) error {
	var we *Error
	if !errors.As(err, &we) {
		return nil
	}
	if reason := we.Misconfigured(); reason != "" {
		return inbox.Misconfigured(sink, reason, err)
	}
	return nil
}

// errTooManyRedirects is checkRedirect's refusal of one redirect too many.
type errTooManyRedirects struct{ max int }

func (e *errTooManyRedirects) Error() string {
	return fmt.Sprintf("webhook: redirected more than %d times", e.max)
}

// misconfiguredStatus returns the reason a status refuses the
// configuration, "" when it does not.
func misconfiguredStatus(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("the receiver refuses our requests (HTTP %d): check that it expects this signing secret and allows our requests", code)
	case http.StatusNotFound, http.StatusGone:
		return fmt.Sprintf("the receiver has no endpoint at this URL (HTTP %d): fix the URL or remove the webhook", code)
	}
	return ""
}

// misconfiguredTransport returns the reason a failure without an answer
// refuses the configuration, "" when it is an outage (or unknown).
func misconfiguredTransport(err error) string {
	var (
		ae     *AddressError
		ue     *URLError
		many   *errTooManyRedirects
		verify *tls.CertificateVerificationError
		unk    x509.UnknownAuthorityError
		host   x509.HostnameError
		inval  x509.CertificateInvalidError
		record tls.RecordHeaderError
		op     *net.OpError
	)
	switch {
	case errors.As(err, &ae):
		return "the URL's host " + ae.Reason + ": webhooks reach public addresses only, point it at a public https URL"
	case errors.As(err, &ue):
		return "the URL or a redirect is refused (webhooks need https and a public address): fix the URL"
	case errors.As(err, &many):
		return fmt.Sprintf("the receiver redirects more than %d times: point the webhook at the final URL", many.max)
	case errors.As(err, &verify), errors.As(err, &unk), errors.As(err, &host), errors.As(err, &inval):
		return "the receiver's TLS certificate is not trusted (unknown authority, expired, or for another host): fix its certificate, or trust its authority in Config.TLSConfig"
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"): // net/http's text for a RecordHeaderError
		return "the receiver does not speak TLS on this port: webhooks are https only, fix the URL's port or the receiver"
	case errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && op.Err.Error() != "tls: internal error":
		// A TLS alert from the receiver (crypto/tls's unexported alert);
		// internal_error is the receiver's trouble, not the setup's.
		return "the receiver refuses the TLS handshake (protocol version, cipher suites or a client certificate it wants): fix the receiver's TLS settings or Config.TLSConfig"
	}
	return ""
}

// redactURLError shows only the scheme and host of the URL in a *URLError
// in err: a delivery's errors are kept (dead letters, logs), and a URL's
// path and query often hold a secret.
func redactURLError(err error) {
	var ue *URLError
	if errors.As(err, &ue) {
		ue.URL = Redact(ue.URL)
	}
}
