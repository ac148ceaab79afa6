package email_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/observe"
)

// misconfiguredCase is a server that answers but refuses the Sender's
// configuration, and the reason the delivery must fail with.
type misconfiguredCase struct {
	name   string
	host   string
	port   int
	cfg    email.Config // Host and Port are filled in
	roots  *x509.CertPool
	reason string
}

// A server that refuses the configuration, with an app that never called
// Sender.Check: the delivery fails at once (one attempt, a dead letter
// whose error gives the reason), health reports the sink as down with the
// reason (in the worker's process, and from the status the worker
// publishes to Redis), and the recipient is neither refused in the ledger
// nor suppressed (a re-drive after the fix mails them). Before, mandatory
// TLS without STARTTLS failed with reply code 0, "unreachable", and was
// held as an outage for ever; a refused sender (553) suppressed the
// recipient.
func TestMisconfiguredSinkFailsAtOnceWithTheReason(t *testing.T) {
	plain := smtptest.Start(t, smtptest.Config{})
	secure := smtptest.Start(t, smtptest.Config{TLS: true, Username: "ana", Password: "s3cret"})
	refusing := smtptest.Start(t, smtptest.Config{})
	cases := []misconfiguredCase{
		{name: "mandatory TLS, no STARTTLS", host: plain.Host(), port: plain.Port(), cfg: email.Config{TLS: email.TLSMandatory}, reason: email.MisconfiguredNoSTARTTLS},
		{name: "AUTH refused", host: secure.Host(), port: secure.Port(), roots: secure.RootCAs(),
			cfg: email.Config{TLS: email.TLSMandatory, Username: "ana", Password: "wrong"}, reason: email.MisconfiguredAuth},
		{name: "certificate not trusted", host: secure.Host(), port: secure.Port(), cfg: email.Config{TLS: email.TLSMandatory}, reason: email.MisconfiguredCertificate},
		{name: "sender refused", host: refusing.Host(), port: refusing.Port(), cfg: email.Config{TLS: email.TLSNone}, reason: email.MisconfiguredSender},
	}
	refusing.FailNext(1000, smtptest.Failure{Code: 553, Message: "sender domain example.com refused"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { testMisconfigured(t, c) })
	}
}

// The same against Debian's aiosmtpd, an SMTP server this project did not
// write: no STARTTLS, a refused login, a refused sender.
func TestMisconfiguredSinkAgainstAiosmtpd(t *testing.T) {
	noTLS := startAiosmtpd(t)
	authRefused := startAiosmtpd(t, "--refuse-auth")
	senderRefused := startAiosmtpd(t, "--refuse-sender")
	cases := []misconfiguredCase{
		{name: "mandatory TLS, no STARTTLS", host: noTLS.Host(), port: noTLS.Port(), cfg: email.Config{TLS: email.TLSMandatory}, reason: email.MisconfiguredNoSTARTTLS},
		{name: "AUTH refused", host: authRefused.Host(), port: authRefused.Port(),
			cfg: email.Config{TLS: email.TLSNone, Username: "ana", Password: "wrong", Auth: email.AuthPlain}, reason: email.MisconfiguredAuth},
		{name: "sender refused", host: senderRefused.Host(), port: senderRefused.Port(), cfg: email.Config{TLS: email.TLSNone}, reason: email.MisconfiguredSender},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { testMisconfigured(t, c) })
	}
}

func testMisconfigured(t *testing.T, c misconfiguredCase) {
	ctx := context.Background()
	cfg := c.cfg
	cfg.Host, cfg.Port, cfg.Timeout = c.host, c.port, wait
	if c.roots != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: c.roots}
	}
	s, err := email.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, nil, email.InboxConfig{Name: unique("misconfigured"), Recipients: fixed(bob), Transport: s})
	w, attempts := outageWorker(t, in, inbox.BreakerConfig{Failures: 1})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	ev := recordComment(t, newIssueID(t), ana)

	a := nextAttempt(t, attempts)
	var mis *inbox.MisconfiguredError
	if !errors.As(a.err, &mis) || mis.Reason != c.reason || mis.Sink != s.Sink() || !inbox.IsPermanent(a.err) || errors.Is(a.err, inbox.ErrSinkDown) {
		t.Fatalf("the delivery failed with %v; want a permanent MisconfiguredError of %s saying %q", a.err, s.Sink(), c.reason)
	}
	var letters []inbox.DeadLetter
	waitUntil(t, wait, "the dead letter", func() bool {
		p, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()})
		if err != nil {
			t.Fatal(err)
		}
		letters = p.Letters
		return len(letters) == 1
	})
	if l := letters[0]; l.Event != ev.Ref() || l.Attempts != 1 || !strings.Contains(l.LastError, c.reason) {
		t.Errorf("dead letter %+v; want one attempt of %v saying %q", l, ev.Ref(), c.reason)
	}
	select {
	case a := <-attempts:
		t.Errorf("another attempt after the configuration failure: %+v", a)
	default:
	}

	// Health, in the worker's process and from what it publishes.
	r := observe.BreakersCheck(w).Check(ctx)
	if r.Status != observe.StatusDown || !strings.Contains(r.Detail, s.Sink()) || !strings.Contains(r.Detail, c.reason) {
		t.Errorf("health %+v; want down naming %s and %q", r, s.Sink(), c.reason)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: redisOpt.DB})
	defer rdb.Close()
	published := observe.WorkerBreakersCheck(rdb, "")
	waitUntil(t, wait, "the published status to say so", func() bool {
		r = published.Check(ctx)
		return r.Status == observe.StatusDown && strings.Contains(r.Detail, c.reason)
	})

	// The recipient is not to blame.
	var statuses []string
	if err := testDB.Raw(`SELECT status FROM inbox_deliveries WHERE inbox = ?`, in.Name()).Scan(&statuses).Error; err != nil {
		t.Fatal(err)
	}
	for _, st := range statuses {
		if st == string(inbox.StatusRefused) || st == string(inbox.StatusSent) {
			t.Errorf("the recipient's ledger row is %s; want it released", st)
		}
	}
	if sup, err := inbox.Suppressed(ctx, testDB, inbox.ChannelEmail, []string{bob.Email}); err != nil || len(sup) != 0 {
		t.Errorf("suppressed %v %v; want none", sup, err)
	}
	t.Logf("%s: %v", c.name, a.err)
}

// A server that does not answer is still an outage, not a configuration
// failure (the breaker's business), and a server that answers 454 to AUTH
// (a temporary failure of its authentication) is not one either.
func TestUnreachableServerIsNotMisconfigured(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	srv.Stop()
	s, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSMandatory, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), &email.Message{From: &mail.Address{Address: "notify@example.com"}, To: bob, Subject: "x", Text: "x", MessageID: "m@example.com"})
	var se *email.SendError
	if !errors.As(err, &se) || se.Misconfigured != "" || email.IsPermanent(err) {
		t.Errorf("send to a stopped server: %#v; want a temporary SendError without Misconfigured", err)
	}
}
