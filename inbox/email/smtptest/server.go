package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Config configures a Server. The zero value is a plain server without
// authentication or TLS.
type Config struct {
	// Domain is the name the server greets with. Default "localhost".
	Domain string

	// Username and Password, when Username is set, make the server offer
	// AUTH PLAIN and refuse MAIL FROM before a successful login.
	Username string
	Password string

	// TLS makes the server offer STARTTLS with a self-signed certificate
	// for 127.0.0.1 and localhost. Clients trust it through RootCAs.
	TLS bool
}

// Stage is the SMTP command at which a programmed Failure is answered.
type Stage int

const (
	// StageMail refuses the MAIL FROM command (the default).
	StageMail Stage = iota
	// StageRcpt refuses each RCPT TO command.
	StageRcpt
	// StageData refuses the message after its data was received.
	StageData
)

// Failure is a reply the server gives instead of accepting a transaction.
type Failure struct {
	// Code is the SMTP reply code: 550 for a permanent failure, 421 or 451
	// for a temporary one. Required.
	Code int
	// Message is the reply text. Default "smtptest: programmed failure".
	Message string
	// Stage is the command that is refused. Default StageMail.
	Stage Stage
}

// Server is a running in-process SMTP server. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	srv     *smtp.Server
	ln      net.Listener
	rootCAs *x509.CertPool
	done    chan struct{}

	mu           sync.Mutex
	messages     []Message
	transactions int
	failures     []Failure
	rcptFailures map[string][]Failure // per recipient address, in order
	rcpts        map[string]int       // RCPT TO commands per address
	changed      chan struct{}        // closed and replaced whenever a message arrives
}

// NewServer starts a server listening on 127.0.0.1 on a free port.
// Close stops it.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	s := &Server{cfg: cfg, changed: make(chan struct{}), done: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Domain
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.TLS {
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("smtptest: make a certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.rootCAs = pool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen on 127.0.0.1: %w", err)
	}
	s.srv, s.ln = srv, ln
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln)
	}()
	return s, nil
}

// Start is NewServer for tests: it fails tb when the server cannot start and
// closes the server when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Close stops the server and waits for it to finish.
func (s *Server) Close() error {
	err := s.srv.Close()
	// go-smtp closes only the listeners Serve registered: a Close that runs
	// before the Serve goroutine got that far would leave it serving.
	_ = s.ln.Close()
	<-s.done
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr returns the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// RootCAs returns a pool holding the server's self-signed certificate when
// Config.TLS is set, nil otherwise.
func (s *Server) RootCAs() *x509.CertPool { return s.rootCAs }

// FailNext makes the server answer the next n transactions (MAIL FROM
// commands) with f instead of accepting them. Calls queue up in order.
func (s *Server) FailNext(n int, f Failure) {
	if f.Message == "" {
		f.Message = "smtptest: programmed failure"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Transactions returns how many transactions (MAIL FROM commands) clients
// began, whether they were accepted or refused.
func (s *Server) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transactions
}

// WaitFor waits until at least n messages were accepted and returns them
// all. It fails when timeout passes first, naming how many arrived.
func (s *Server) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.changed
		if got >= n {
			msgs := append([]Message(nil), s.messages...)
			s.mu.Unlock()
			return msgs, nil
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return s.Messages(), fmt.Errorf("smtptest: waited %s for %d messages, got %d", timeout, n, got)
		}
	}
}

func (s *Server) beginTransaction() *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transactions++
	if len(s.failures) == 0 {
		return nil
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return &f
}

func (s *Server) deliver(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{server: s, conn: c}, nil
}

// session is one SMTP connection.
type session struct {
	server *Server
	conn   *smtp.Conn
	user   string

	failure *Failure
	from    string
	to      []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.server.cfg.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.server.cfg.Username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != ss.server.cfg.Username || password != ss.server.cfg.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.server.cfg.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from, ss.to = from, nil
	ss.failure = ss.server.beginTransaction()
	if ss.failure != nil && ss.failure.Stage == StageMail {
		f := ss.failure
		ss.failure = nil
		return f.smtpError()
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.failure != nil && ss.failure.Stage == StageRcpt {
		return ss.failure.smtpError()
	}
	if f := ss.server.rcptFailure(to); f != nil {
		return f.smtpError()
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.failure != nil && ss.failure.Stage == StageData {
		return ss.failure.smtpError()
	}
	_, tlsOn := ss.conn.TLSConnectionState()
	m := parseMessage(raw)
	m.From, m.To, m.User, m.TLS = ss.from, append([]string(nil), ss.to...), ss.user, tlsOn
	ss.server.deliver(m)
	return nil
}

func (ss *session) Reset() {
	ss.failure, ss.from, ss.to = nil, "", nil
}

func (ss *session) Logout() error { return nil }

func (f Failure) smtpError() *smtp.SMTPError {
	class := f.Code / 100
	return &smtp.SMTPError{Code: f.Code, EnhancedCode: smtp.EnhancedCode{class, 0, 0}, Message: f.Message}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest " + strconv.FormatInt(serial.Int64(), 16)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
