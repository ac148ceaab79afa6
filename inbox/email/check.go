package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"

	mail "github.com/wneessen/go-mail"
)

// CheckError is a Sender's configuration that the server's EHLO answer
// (or its TLS handshake, or its AUTH) shows cannot work. errors.Is(err,
// ErrInvalidConfig) holds: fail at start instead of burning every mail's
// retries.
type CheckError struct {
	Server  string   // host:port
	Problem string   // what does not fit, and what to change
	EHLO    []string // the extensions the server announced
	Err     error    // the underlying error, if any
}

func (e *CheckError) Error() string {
	msg := fmt.Sprintf("email: SMTP server %s: %s", e.Server, e.Problem)
	if len(e.EHLO) > 0 {
		msg += " (its EHLO lists: " + strings.Join(e.EHLO, ", ") + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}
func (e *CheckError) Unwrap() error        { return e.Err }
func (e *CheckError) Is(target error) bool { return target == ErrInvalidConfig }

// Check connects once and compares the configuration with what the server
// announces in its EHLO answer: STARTTLS when TLS is mandatory, AUTH (and
// the configured mechanism) when a Username is set; then it completes the
// TLS handshake and logs in as a send would, and quits without sending.
// A server that cannot be reached is a temporary error (an SMTP outage at
// start is not a misconfiguration); anything the server's answers show
// cannot work is a *CheckError. Call it at start.
func (s *Sender) Check(ctx context.Context) error {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &SendError{Recipient: checkRecipient, Text: "connect: " + err.Error(), Err: err}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if s.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, s.cfg.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return &CheckError{Server: addr, Problem: "the implicit TLS handshake failed (TLS implicit expects SMTPS, usually port 465; use mandatory or opportunistic STARTTLS on 587 or 25)", Err: err}
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return &CheckError{Server: addr, Problem: "did not greet like an SMTP server", Err: err}
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HELO); err != nil {
		return &CheckError{Server: addr, Problem: "refused EHLO " + s.cfg.HELO, Err: err}
	}
	ehlo := extensions(c)
	tlsOn := s.cfg.TLS == TLSImplicit
	if ok, _ := c.Extension("STARTTLS"); ok && (s.cfg.TLS == TLSMandatory || s.cfg.TLS == TLSOpportunistic) {
		if err := c.StartTLS(s.cfg.TLSConfig); err != nil {
			return &CheckError{Server: addr, Problem: "STARTTLS failed (is the certificate valid for " + s.cfg.TLSConfig.ServerName + "? set TLSConfig to trust it)", EHLO: ehlo, Err: err}
		}
		tlsOn = true
		ehlo = extensions(c)
	} else if s.cfg.TLS == TLSMandatory {
		return &CheckError{Server: addr, Problem: "does not offer STARTTLS, and TLS is mandatory: use opportunistic TLS, or none for a relay on this machine, or implicit TLS on its SMTPS port", EHLO: ehlo}
	}
	if s.cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return &CheckError{Server: addr, Problem: "offers no AUTH, but a Username is set: drop the credentials (a relay that trusts this host) or use the server's submission port (587)", EHLO: ehlo}
		}
		if s.cfg.Auth != AuthAuto && !containsFold(strings.Fields(mechs), string(s.cfg.Auth)) {
			return &CheckError{Server: addr, Problem: fmt.Sprintf("does not offer AUTH %s (it offers %s): set Auth to one of those, or leave it empty to pick", s.cfg.Auth, mechs), EHLO: ehlo}
		}
		if !tlsOn && s.cfg.Auth != AuthCRAMMD5 && s.cfg.Auth != AuthSCRAMSHA256 {
			return &CheckError{Server: addr, Problem: "would send the password in the clear (no TLS): use STARTTLS or implicit TLS", EHLO: ehlo}
		}
	}
	_ = c.Quit()
	if s.cfg.Username == "" {
		return nil
	}
	// Log in for real, exactly as a send does.
	client, err := mail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return &CheckError{Server: addr, Problem: "the client cannot be configured", Err: err}
	}
	if err := client.DialWithContext(ctx); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) || strings.Contains(strings.ToLower(err.Error()), "auth") {
			return &CheckError{Server: addr, Problem: "refused the login: check Username, Password and Auth", EHLO: ehlo, Err: err}
		}
		return classify(err, &Message{To: Recipient{Email: checkRecipient}})
	}
	_ = client.Close()
	return nil
}

func extensions(c *smtp.Client) []string {
	var out []string
	for _, ext := range []string{"STARTTLS", "AUTH", "SIZE", "8BITMIME", "PIPELINING", "SMTPUTF8"} {
		if ok, param := c.Extension(ext); ok {
			if param != "" {
				ext += " " + param
			}
			out = append(out, ext)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// checkRecipient stands for the recipient in a SendError of Check, which
// sends no message (its Error says "checking the server").
const checkRecipient = "(check)"
