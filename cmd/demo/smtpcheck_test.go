package main

import (
	"context"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// -no-dev against an SMTP server without STARTTLS fails at start with the
// server's reason (TLS is mandatory by default), instead of failing every
// mail; -smtp-tls opportunistic starts.
func TestSMTPSettingsCheckedAtStart(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	if _, err := pgtest.Create(ctx, "tidings_test_demo_smtp"); err != nil { // its own (the demo would create a missing one unmarked)
		t.Fatal(err)
	}
	cfg := Config{DSN: pgtest.DSN("tidings_test_demo_smtp"), RedisAddr: redistest.Addr(), RedisDB: 6, NoDev: true, NoSeed: true, SMTPAddr: srv.Addr()}
	_, err := NewApp(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || !strings.Contains(err.Error(), "-smtp-tls") {
		t.Fatalf("mandatory TLS against a plain server: %v; want a start error naming STARTTLS and -smtp-tls", err)
	}
	cfg.SMTPTLS = "sometimes"
	if _, err := NewApp(ctx, cfg); err == nil || !strings.Contains(err.Error(), "use mandatory, opportunistic, implicit or none") {
		t.Fatalf("bad -smtp-tls: %v", err)
	}
	cfg.SMTPTLS = "opportunistic"
	app, err := NewApp(ctx, cfg)
	if err != nil {
		t.Fatalf("opportunistic TLS: %v", err)
	}
	app.Close()
}
