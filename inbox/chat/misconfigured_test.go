package chat_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// A webhook whose certificate the client does not trust answers, but not
// in a way any retry fixes: the delivery fails as a misconfiguration of
// the inbox's sink (the reason says to fix the certificate or trust its
// authority), not an outage the breaker would hold forever; the webhook is
// not suppressed (its URL is not wrong).
func TestUntrustedCertificateIsMisconfigured(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		url := p.hook(unique("tls"))
		untrusting := webhook.NewClient(webhook.Config{
			CheckAddr: func(ap netip.AddrPort) error {
				if ap.Addr().IsLoopback() {
					return nil
				}
				return webhook.PublicOnly(ap)
			},
			TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()},
		})
		in, err := chat.NewInbox(chat.Config{Name: unique(p.provider.Name()), Provider: p.provider, Client: untrusting,
			Router: router(t, chat.RouterConfig{Rules: []chat.Rule{{Tenant: "acme", URL: url}}})})
		if err != nil {
			t.Fatal(err)
		}
		err = inboxtest.Process(t, testDB, in, record(t, "acme", newIssue(t), "comment_added", "Ana"))
		var mis *inbox.MisconfiguredError
		if !errors.As(err, &mis) || mis.Sink != in.Sink() || !strings.Contains(mis.Reason, "certificate is not trusted") || errors.Is(err, inbox.ErrSinkDown) {
			t.Fatalf("%v; want a misconfiguration of %s saying the certificate is not trusted, not an outage", err, in.Sink())
		}
		if got, err := inbox.Suppressed(context.Background(), testDB, p.provider.Name(), []string{chat.TargetKey(url)}); err != nil || len(got) != 0 {
			t.Errorf("suppressed %v %v; want the webhook not suppressed", got, err)
		}
	})
}
