package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// TLSPolicy says how a Sender protects the SMTP connection.
type TLSPolicy int

const (
	// TLSMandatory upgrades the connection with STARTTLS and fails when the
	// server does not offer it. The zero value, and the default.
	TLSMandatory TLSPolicy = iota
	// TLSOpportunistic uses STARTTLS when the server offers it and sends in
	// the clear otherwise.
	TLSOpportunistic
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit
	// TLSNone never uses TLS. Only for a server on loopback (dev mode, tests).
	TLSNone
)

func (p TLSPolicy) String() string {
	switch p {
	case TLSMandatory:
		return "mandatory STARTTLS"
	case TLSOpportunistic:
		return "opportunistic STARTTLS"
	case TLSImplicit:
		return "implicit TLS"
	case TLSNone:
		return "no TLS"
	}
	return "TLSPolicy(" + strconv.Itoa(int(p)) + ")"
}

// AuthMethod is an SMTP AUTH mechanism.
type AuthMethod string

// AuthMethod values.
const (
	// AuthAuto picks the strongest mechanism the server offers; PLAIN and
	// LOGIN only over TLS. The default.
	AuthAuto        AuthMethod = ""
	AuthPlain       AuthMethod = "PLAIN"
	AuthLogin       AuthMethod = "LOGIN"
	AuthCRAMMD5     AuthMethod = "CRAM-MD5"
	AuthSCRAMSHA256 AuthMethod = "SCRAM-SHA-256"
)

// Config configures a Sender.
type Config struct {
	// Host is the SMTP server's host name or IP. Required.
	Host string
	// Port is the server's port. Default 465 with TLSImplicit, 587 otherwise.
	Port int
	// Username and Password, when Username is set, log in with SMTP AUTH.
	Username string
	Password string
	// Auth is the AUTH mechanism. Default AuthAuto.
	Auth AuthMethod
	// TLS is the TLS policy. Default TLSMandatory.
	TLS TLSPolicy
	// TLSConfig verifies the server. Default: the system roots and
	// ServerName Host. When set without ServerName, Host is used.
	TLSConfig *tls.Config
	// Timeout bounds one delivery: connecting and every command. Default 30s.
	Timeout time.Duration
	// HELO is the name the client greets with. Default: the machine's host
	// name, or "localhost".
	HELO string
}

// Sender delivers Messages over SMTP, one connection per message.
// It is safe for concurrent use.
type Sender struct {
	cfg Config
}

// NewSender checks cfg and returns a Sender. It does not connect.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("%w: Config.Host is empty; set the SMTP server's host name", ErrInvalidConfig)
	}
	if cfg.TLS < TLSMandatory || cfg.TLS > TLSNone {
		return nil, fmt.Errorf("%w: Config.TLS %d is not one of TLSMandatory, TLSOpportunistic, TLSImplicit, TLSNone", ErrInvalidConfig, cfg.TLS)
	}
	switch cfg.Auth {
	case AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5, AuthSCRAMSHA256:
	default:
		return nil, fmt.Errorf("%w: Config.Auth %q is not one of PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 or empty (auto)", ErrInvalidConfig, cfg.Auth)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: Config.Port %d is not between 1 and 65535", ErrInvalidConfig, cfg.Port)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HELO == "" {
		cfg.HELO = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.HELO = h
		}
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	}
	if cfg.TLSConfig.ServerName == "" {
		cfg.TLSConfig.ServerName = cfg.Host
	}
	return &Sender{cfg: cfg}, nil
}

// Send delivers m. A failure is a *SendError: IsPermanent(err) tells a 5xx
// refusal, which must not be retried, from a temporary one (4xx, timeout,
// connection error), which may be. A server that refuses the
// configuration (see misconfigured.go) sets SendError.Misconfigured, and
// is permanent.
func (s *Sender) Send(ctx context.Context, m *Message) error {
	msg, err := m.mailMsg()
	if err != nil {
		return err
	}
	client, err := mail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		se := classify(err, m)
		if why := s.misconfiguration(err); why != "" {
			se.Misconfigured, se.Permanent = why, true
		}
		return se
	}
	return nil
}

func (s *Sender) options() []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(s.cfg.Timeout),
		mail.WithHELO(s.cfg.HELO),
		mail.WithTLSConfig(s.cfg.TLSConfig),
	}
	switch s.cfg.TLS {
	case TLSMandatory:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.cfg.Username != "" {
		auth := mail.SMTPAuthAutoDiscover
		switch s.cfg.Auth {
		case AuthPlain:
			auth = mail.SMTPAuthPlain
		case AuthLogin:
			auth = mail.SMTPAuthLogin
		case AuthCRAMMD5:
			auth = mail.SMTPAuthCramMD5
		case AuthSCRAMSHA256:
			auth = mail.SMTPAuthSCRAMSHA256
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	return opts
}

// mailMsg converts m into go-mail's message. Every header value passes
// through oneLine first; go-mail then RFC 2047-encodes what is not ASCII.
func (m *Message) mailMsg() (*mail.Msg, error) {
	if m.From == nil {
		return nil, fmt.Errorf("%w: message %s has no From", ErrInvalidConfig, m.MessageID)
	}
	if err := m.To.validate(); err != nil {
		return nil, err
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.FromFormat(oneLine(m.From.Name), m.From.Address); err != nil {
		return nil, fmt.Errorf("%w: From %q: %v", ErrInvalidConfig, m.From.Address, err)
	}
	if err := msg.AddToFormat(oneLine(m.To.Name), m.To.Email); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidRecipient, m.To.Email, err)
	}
	msg.Subject(oneLine(m.Subject))
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(oneLine(m.MessageID))
	}
	if m.InReplyTo != "" {
		msg.SetGenHeaderPreformatted(mail.HeaderInReplyTo, "<"+oneLine(m.InReplyTo)+">")
	}
	if len(m.References) > 0 {
		refs := make([]string, len(m.References))
		for i, r := range m.References {
			refs[i] = "<" + oneLine(r) + ">"
		}
		msg.SetGenHeaderPreformatted(mail.HeaderReferences, strings.Join(refs, " "))
	}
	if m.UnsubscribeURL != "" {
		if err := checkUnsubscribeURL(m.UnsubscribeURL); err != nil {
			return nil, err
		}
		msg.SetListUnsubscribe(m.UnsubscribeURL)
		msg.SetListUnsubscribePost()
	}
	msg.SetGenHeaderPreformatted("Auto-Submitted", "auto-generated")
	if !m.Date.IsZero() {
		msg.SetDateWithValue(m.Date)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// classify wraps a delivery failure in a *SendError and decides whether it
// is permanent: only a 5xx reply is.
func classify(err error, m *Message) *SendError {
	se := &SendError{MessageID: m.MessageID, Recipient: m.To.Email, Text: err.Error(), Err: err}
	var sendErr *mail.SendError
	var protoErr *textproto.Error
	var netErr net.Error
	switch {
	case errors.As(err, &sendErr) && sendErr.ErrorCode() != 0:
		se.Code = sendErr.ErrorCode()
		se.EnhancedCode = sendErr.EnhancedStatusCode()
		se.Text = replyText(sendErr.Error(), se.Code)
	case errors.As(err, &protoErr):
		se.Code, se.Text = protoErr.Code, protoErr.Msg
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		se.Text = "timed out: " + err.Error()
	}
	se.Permanent = se.Code >= 500 && se.Code <= 599
	return se
}

// replyText cuts the server's reply out of go-mail's error text,
// "sending SMTP RCPT TO command: 550 5.1.1 no such user, affected recipient(s): ...".
func replyText(s string, code int) string {
	i := strings.Index(s, strconv.Itoa(code)+" ")
	if i < 0 {
		return s
	}
	s = s[i+4:]
	if j := strings.Index(s, ", affected "); j >= 0 {
		s = s[:j]
	}
	return s
}
