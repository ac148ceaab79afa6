package slack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tidingsdev/tidings/activity"
)

// WebhookConfig configures a WebhookPoster.
type WebhookConfig struct {
	// Router picks each event's incoming-webhook URL: in webhook mode the
	// rules' channels and the default are webhook URLs (https, or http on
	// loopback for dev mode), since each webhook posts to one channel.
	// Required.
	Router *Router
	// Builders renders messages. Default NewBuilders(nil).
	Builders *Builders
	// HTTPClient makes the calls. Default: a client with a 10s timeout.
	HTTPClient *http.Client
}

// WebhookPoster posts events through incoming webhooks, for teams without a
// bot token. Webhooks answer no ts, so there are no threads and Posted is
// empty. Error classification matches Poster's: Slack's webhook errors come
// as HTTP statuses (400 invalid_payload, 403 action_prohibited, 404
// channel_not_found or no_service, 410 channel_is_archived), which are
// permanent; 429 with Retry-After is a *RateLimitError; 5xx is temporary.
type WebhookPoster struct {
	router   *Router
	builders *Builders
	client   *http.Client
}

// NewWebhookPoster checks cfg and returns a WebhookPoster.
func NewWebhookPoster(cfg WebhookConfig) (*WebhookPoster, error) {
	if cfg.Router == nil {
		return nil, fmt.Errorf("%w: WebhookConfig.Router is nil; make one with NewRouter, with webhook URLs as channels", ErrInvalidConfig)
	}
	for i, target := range cfg.Router.Channels() {
		if err := checkWebhookURL(target); err != nil {
			return nil, fmt.Errorf("%w: route target %d: %v", ErrInvalidConfig, i, err)
		}
	}
	if cfg.Builders == nil {
		cfg.Builders = NewBuilders(nil)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &WebhookPoster{router: cfg.Router, builders: cfg.Builders, client: cfg.HTTPClient}, nil
}

// Accepts reports whether ev has a webhook to go to.
func (w *WebhookPoster) Accepts(ev activity.Event) bool {
	_, ok := w.router.Route(ev)
	return ok
}

// Router returns the WebhookPoster's router.
func (w *WebhookPoster) Router() *Router { return w.router }

// Post renders ev and posts it to its webhook. Errors are as for
// Poster.Post; the webhook URL is a secret and never appears in them.
func (w *WebhookPoster) Post(ctx context.Context, ev activity.Event) (Posted, error) {
	target, ok := w.router.Route(ev)
	if !ok {
		return Posted{}, &APIError{Method: "webhook", Permanent: true, Err: fmt.Errorf("%w: %s", ErrNoRoute, ev)}
	}
	msg, err := w.builders.Build(ctx, ev)
	if err != nil {
		return Posted{}, &APIError{Method: "webhook", Permanent: true, Err: err}
	}
	wm := &slackapi.WebhookMessage{Text: msg.Text}
	if len(msg.Blocks) > 0 {
		wm.Blocks = &slackapi.Blocks{BlockSet: msg.Blocks}
	}
	if err := slackapi.PostWebhookCustomHTTPContext(ctx, target, w.client, wm); err != nil {
		return Posted{}, classify(redactURL(err, target), "webhook", "")
	}
	return Posted{}, nil
}

// redactedError hides the webhook URL (a secret) from an error's text while
// keeping the error chain for classification.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactURL(err error, target string) error {
	if !strings.Contains(err.Error(), target) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), target, "(webhook URL)"), err: err}
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not an absolute webhook URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("webhook URLs must use https (http only on localhost)")
}
