package email

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/textproto"
	"strings"

	mail "github.com/wneessen/go-mail"
)

// A server that answers but refuses the Sender's configuration (TLS
// mandatory and no STARTTLS, a refused login, a refused sender address, a
// certificate the client does not trust) is a configuration failure, not
// an outage: Send reports it in SendError.Misconfigured whether or not the
// app called Check, and the Inbox fails the delivery at once as an
// inbox.MisconfiguredError (a dead letter saying why; health reports the
// sink as down) instead of holding it as if the server were down.

// The reasons SendError.Misconfigured gives, in the library's words.
const (
	MisconfiguredNoSTARTTLS  = "TLS is mandatory but the server offers no STARTTLS: use opportunistic TLS, none for a relay on this machine, or implicit TLS on its SMTPS port"
	MisconfiguredNoTLS       = "implicit TLS, but the server does not speak TLS on this port: use mandatory or opportunistic STARTTLS on 587 or 25"
	MisconfiguredCertificate = "the server's TLS certificate is not trusted: set TLSConfig to trust it, or its ServerName to the name the certificate is for"
	MisconfiguredAuth        = "the server refused the login: check Username, Password and Auth"
	MisconfiguredNoAuth      = "the server offers no AUTH mechanism the Sender may use, but a Username is set: drop the credentials (a relay that trusts this host), set Auth, or use the server's submission port"
	MisconfiguredAuthNeeded  = "the server requires a login: set Username and Password"
	MisconfiguredSender      = "the server refused the sender address (MAIL FROM): send from a domain the server may send for (check the Builder's From)"
)

// misconfiguration returns what err, a failed send (before classify),
// shows about the Sender's configuration: one of the Misconfigured
// reasons, "" when nothing (an outage, a refused recipient).
func (s *Sender) misconfiguration(err error) string {
	var sendErr *mail.SendError
	var protoErr *textproto.Error
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	text := err.Error()
	switch {
	case errors.As(err, &sendErr) && sendErr.Reason == mail.ErrSMTPMailFrom && sendErr.ErrorCode() >= 500:
		if sendErr.ErrorCode() == 530 {
			return MisconfiguredAuthNeeded
		}
		return MisconfiguredSender
	case strings.Contains(text, "does not support STARTTLS"):
		return MisconfiguredNoSTARTTLS
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return MisconfiguredCertificate
	case s.cfg.TLS == TLSImplicit && errors.As(err, &record):
		return MisconfiguredNoTLS
	case strings.Contains(text, "SMTP AUTH failed"):
		if errors.As(err, &protoErr) && protoErr.Code >= 400 && protoErr.Code < 500 {
			return "" // 454: a temporary failure of the server's authentication
		}
		return MisconfiguredAuth
	case errors.Is(err, mail.ErrNoSupportedAuthDiscovered), strings.Contains(text, "does not support SMTP AUTH"):
		return MisconfiguredNoAuth
	}
	return ""
}
