package sms

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox/chat"
)

// PostForm posts form to a provider's endpoint (form-encoded, asking for
// JSON) and reads the answer, at most 64 KiB; auth, when not nil, adds
// the provider's credentials to the request. A request that cannot be
// built is a *SendError of class ErrRejected, no answer one of class
// ErrUnavailable, both naming provider. The answer's body is closed;
// reading the answer (a 2xx) or classing the refusal (HTTPRefusal) is
// the provider's.
func PostForm(ctx context.Context, client *http.Client, provider, endpoint string, form url.Values, auth func(*http.Request)) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, &SendError{Provider: provider, Class: ErrRejected, Status: 400, Message: "build the request", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth != nil {
		auth(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, &SendError{Provider: provider, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp, body, nil
}

// HTTPRefusal is the *SendError of an answer that is not a 2xx, classed
// by its HTTP status alone: 429 ErrRateLimited, waiting the answer's
// Retry-After (seconds or a date, against now) or else wait; 401 and 403
// ErrUnauthorized; 5xx and 408 ErrUnavailable; another status
// ErrRejected (no redirect is expected of an API). Its Message is the
// start of the body. A provider whose refusals carry codes reclasses by
// them.
func HTTPRefusal(provider string, resp *http.Response, body []byte, now time.Time, wait time.Duration) *SendError {
	se := &SendError{Provider: provider, Status: resp.StatusCode, Message: strings.TrimSpace(string(body[:min(len(body), 200)]))}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		se.Class = ErrRateLimited
		se.RetryAfter = wait
		if d, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			se.RetryAfter = d
		}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		se.Class = ErrUnauthorized
	case s >= 500 || s == http.StatusRequestTimeout:
		se.Class = ErrUnavailable
	default:
		se.Class = ErrRejected
	}
	return se
}
