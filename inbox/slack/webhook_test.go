package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

func webhookPoster(t *testing.T, srv *slacktest.Server) *slackinbox.WebhookPoster {
	t.Helper()
	p, err := slackinbox.NewWebhookPoster(slackinbox.WebhookConfig{
		Router: router(t, slackinbox.RouterConfig{
			Default: srv.WebhookURL("T1/B1/general-secret"),
			Rules:   []slackinbox.Rule{{Domain: "issue", Action: "deleted", Channel: srv.WebhookURL("T1/B2/audit-secret")}},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWebhookPostsEscapedMessage(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{})
	p := webhookPoster(t, srv)
	ctx := context.Background()
	if _, err := p.Post(ctx, event(40, "42", "comment_added", "<!channel> Ana", map[string]any{"body": "<@U123> & co"})); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Post(ctx, event(41, "42", "deleted", "Ana", nil)); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(2, wait)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Method != slacktest.MethodWebhook || msgs[0].Webhook != "T1/B1/general-secret" || msgs[1].Webhook != "T1/B2/audit-secret" {
		t.Errorf("webhooks used: %q then %q", msgs[0].Webhook, msgs[1].Webhook)
	}
	all := strings.Join(msgs[0].Texts(), "\n")
	if !strings.Contains(all, "&lt;!channel&gt; Ana") || !strings.Contains(all, "&lt;@U123&gt; &amp; co") || strings.Contains(all, "<!channel>") || strings.Contains(all, "<@U123>") {
		t.Errorf("webhook text not escaped:\n%s", all)
	}
}

func TestWebhookErrors(t *testing.T) {
	cases := []struct {
		failure   slacktest.Failure
		status    int
		permanent bool
		retry     time.Duration
	}{
		{slacktest.Failure{Error: "channel_not_found"}, 404, true, 0},
		{slacktest.Failure{Error: "no_service"}, 404, true, 0},
		{slacktest.Failure{Error: "action_prohibited"}, 403, true, 0},
		{slacktest.Failure{Error: "channel_is_archived"}, 410, true, 0},
		{slacktest.Failure{Error: "invalid_payload"}, 400, true, 0},
		{slacktest.Failure{Error: "internal_error", Status: 500}, 500, false, 0},
		{slacktest.Failure{RetryAfter: 3 * time.Second}, 0, false, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.failure.Error, func(t *testing.T) {
			srv := slacktest.Start(t, slacktest.Config{})
			p := webhookPoster(t, srv)
			srv.FailNext(slacktest.MethodWebhook, 1, c.failure)
			_, err := p.Post(context.Background(), event(42, "42", "comment_added", "Ana", nil))
			if err == nil {
				t.Fatal("no error")
			}
			if slackinbox.IsPermanent(err) != c.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, !c.permanent, c.permanent)
			}
			if d, ok := slackinbox.RetryAfter(err); d != c.retry || ok != (c.retry != 0) {
				t.Errorf("RetryAfter = %v, %v; want %v", d, ok, c.retry)
			}
			var ae *slackinbox.APIError
			if c.status != 0 && (!errors.As(err, &ae) || ae.Status != c.status) {
				t.Errorf("error %v, want an APIError with status %d", err, c.status)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the webhook URL", err)
			}
		})
	}
}

func TestWebhookConnectionErrorHidesURL(t *testing.T) {
	srv := slacktest.NewServer(slacktest.Config{})
	p := webhookPoster(t, srv)
	srv.Close()
	_, err := p.Post(context.Background(), event(43, "42", "comment_added", "Ana", nil))
	if err == nil || slackinbox.IsPermanent(err) {
		t.Fatalf("closed server gave %v, want a temporary error", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the webhook URL", err)
	}
}

func TestWebhookURLsMustBeHTTPS(t *testing.T) {
	for _, u := range []string{"http://hooks.example.com/services/x", "hooks.slack.com/services/x", "ftp://x/y"} {
		_, err := slackinbox.NewWebhookPoster(slackinbox.WebhookConfig{Router: router(t, slackinbox.RouterConfig{Default: u})})
		if !errors.Is(err, slackinbox.ErrInvalidConfig) {
			t.Errorf("%q: %v, want ErrInvalidConfig", u, err)
		}
		if err != nil && strings.Contains(err.Error(), u) {
			t.Errorf("error %q shows the URL", err)
		}
	}
	if _, err := slackinbox.NewWebhookPoster(slackinbox.WebhookConfig{Router: router(t, slackinbox.RouterConfig{Default: "https://hooks.slack.com/services/T/B/x"})}); err != nil {
		t.Error(err)
	}
}
