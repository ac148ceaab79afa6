package email_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

// Check reads the server's EHLO answer at start: a configuration it shows
// cannot work is a *CheckError (ErrInvalidConfig) with a clear message,
// never a temporary failure that burns every mail's retries.
func TestSenderCheck(t *testing.T) {
	ctx := context.Background()
	plain := smtptest.Start(t, smtptest.Config{})
	secure := smtptest.Start(t, smtptest.Config{TLS: true, Username: "ana", Password: "s3cret"})
	check := func(srv *smtptest.Server, cfg email.Config) error {
		t.Helper()
		cfg.Host, cfg.Port, cfg.Timeout = srv.Host(), srv.Port(), 5*time.Second
		if srv.RootCAs() != nil {
			cfg.TLSConfig = &tls.Config{RootCAs: srv.RootCAs()}
		}
		s, err := email.NewSender(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s.Check(ctx)
	}
	misconfigured := func(err error, want string) {
		t.Helper()
		var ce *email.CheckError
		if !errors.As(err, &ce) || !errors.Is(err, email.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check gave %v; want a CheckError saying %q", err, want)
		}
	}
	// Mandatory TLS against a server without STARTTLS: the -no-dev trap.
	misconfigured(check(plain, email.Config{TLS: email.TLSMandatory}), "does not offer STARTTLS")
	if err := check(plain, email.Config{TLS: email.TLSOpportunistic}); err != nil {
		t.Errorf("opportunistic TLS without STARTTLS: %v", err)
	}
	if err := check(plain, email.Config{TLS: email.TLSNone}); err != nil {
		t.Errorf("no TLS: %v", err)
	}
	misconfigured(check(plain, email.Config{TLS: email.TLSNone, Username: "ana", Password: "x"}), "offers no AUTH")
	// A server with STARTTLS and AUTH PLAIN.
	if err := check(secure, email.Config{TLS: email.TLSMandatory, Username: "ana", Password: "s3cret"}); err != nil {
		t.Errorf("good credentials over STARTTLS: %v", err)
	}
	misconfigured(check(secure, email.Config{TLS: email.TLSMandatory, Username: "ana", Password: "wrong"}), "refused the login")
	misconfigured(check(secure, email.Config{TLS: email.TLSMandatory, Username: "ana", Password: "s3cret", Auth: email.AuthCRAMMD5}), "does not offer AUTH CRAM-MD5")
	misconfigured(check(secure, email.Config{TLS: email.TLSNone, Username: "ana", Password: "s3cret"}), "in the clear")
	// Nobody listening: an outage, not a misconfiguration.
	plain.Stop()
	err := check(plain, email.Config{TLS: email.TLSNone})
	if err == nil || errors.Is(err, email.ErrInvalidConfig) || !errors.Is(err, email.ErrTemporary) {
		t.Errorf("server down gave %v; want a temporary error", err)
	}
}
