package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tidingsdev/tidings/inbox/email"
)

// parseTLSPolicy reads -smtp-tls.
func parseTLSPolicy(s string) (email.TLSPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "mandatory":
		return email.TLSMandatory, nil
	case "opportunistic":
		return email.TLSOpportunistic, nil
	case "implicit":
		return email.TLSImplicit, nil
	case "none":
		return email.TLSNone, nil
	}
	return 0, fmt.Errorf("-smtp-tls %q: use mandatory, opportunistic, implicit or none", s)
}

// checkSMTP checks the SMTP settings against the server once at start: a
// misconfiguration stops the demo with the server's reason; a server that
// is down only warns (mail waits in the retries, and the breaker holds it).
func checkSMTP(ctx context.Context, s *email.Sender, log *slog.Logger) error {
	err := s.Check(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, email.ErrInvalidConfig):
		return fmt.Errorf("SMTP settings (-smtp, -smtp-tls, -smtp-user, -smtp-auth): %w", err)
	}
	log.Warn("SMTP server not reachable at start; mail will wait for it", "error", err)
	return nil
}
