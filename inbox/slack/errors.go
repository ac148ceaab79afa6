package slack

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Sentinels for errors.Is. Every error from a failed post matches exactly
// one of ErrPermanent and ErrTemporary.
var (
	// ErrPermanent matches a post that must not be retried: Slack refused it
	// for a reason a retry cannot fix (see APIError for the list).
	ErrPermanent = errors.New("slack: permanent failure")

	// ErrTemporary matches a post worth retrying: rate limits, Slack's
	// server errors, timeouts and connection errors.
	ErrTemporary = errors.New("slack: temporary failure")

	// ErrNoRoute matches an event that no routing rule and no default
	// channel sends anywhere. It is permanent.
	ErrNoRoute = errors.New("slack: no channel for this event")

	// ErrInvalidConfig matches a configuration that cannot work.
	ErrInvalidConfig = errors.New("slack: invalid configuration")
)

// permanentCodes are Slack error codes that no retry can fix: the token,
// the channel or the message itself is wrong. Every other code (ratelimited,
// internal_error, fatal_error, service_unavailable, request_timeout, ...) is
// temporary.
var permanentCodes = map[string]bool{
	// token and permissions
	"invalid_auth": true, "not_authed": true, "account_inactive": true,
	"token_revoked": true, "token_expired": true, "no_permission": true,
	"missing_scope": true, "not_allowed_token_type": true, "access_denied": true,
	"ekm_access_denied": true, "team_access_not_granted": true,
	"two_factor_setup_required": true, "org_login_required": true,
	"enterprise_is_restricted": true, "invalid_token": true,
	// channel
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"channel_is_archived": true, "restricted_action": true,
	"restricted_action_read_only_channel":      true,
	"restricted_action_thread_only_channel":    true,
	"restricted_action_non_threadable_channel": true,
	"posting_to_general_channel_denied":        true, "no_service": true,
	"action_prohibited": true, "user_not_found": true,
	// the request
	"invalid_blocks": true, "invalid_blocks_format": true, "invalid_arguments": true,
	"invalid_arg_name": true, "invalid_array_arg": true, "invalid_charset": true,
	"invalid_form_data": true, "invalid_post_type": true, "missing_post_type": true,
	"msg_too_long": true, "no_text": true, "too_many_attachments": true,
	"invalid_payload": true, "invalid_metadata_format": true,
	"invalid_metadata_schema": true, "metadata_too_large": true,
	"as_user_not_supported": true, "method_deprecated": true,
	"deprecated_endpoint": true, "unknown_method": true,
}

// APIError reports a post Slack refused, or that never reached Slack.
// errors.Is(err, ErrPermanent) holds when Permanent is set and
// errors.Is(err, ErrTemporary) otherwise.
type APIError struct {
	Method  string // "chat.postMessage", "auth.test" or "webhook"
	Channel string // the channel posted to, "" when unknown
	// Code is Slack's error code ("channel_not_found"), "" when there was
	// none (HTTP error, timeout, connection error).
	Code string
	// Status is the HTTP status of a non-200 answer, 0 otherwise.
	Status int
	// Permanent is true when no retry can succeed: a code in the permanent
	// list (invalid_auth, channel_not_found, not_in_channel, is_archived,
	// missing_scope, invalid_blocks, msg_too_long, ...), or an HTTP 4xx
	// answer other than 408 and 429.
	Permanent bool
	Err       error
}

func (e *APIError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	where := e.Method
	if e.Channel != "" {
		where += " to " + e.Channel
	}
	switch {
	case e.Code != "":
		return fmt.Sprintf("slack: %s failure: %s: %s", kind, where, e.Code)
	case e.Status != 0:
		return fmt.Sprintf("slack: %s failure: %s: HTTP %d", kind, where, e.Status)
	}
	return fmt.Sprintf("slack: %s failure: %s: %v", kind, where, e.Err)
}

func (e *APIError) Unwrap() error { return e.Err }

func (e *APIError) Is(target error) bool {
	switch target {
	case ErrPermanent:
		return e.Permanent
	case ErrTemporary:
		return !e.Permanent
	}
	return false
}

// RateLimitError reports a 429 answer. The job should be retried after
// RetryAfter, not sooner. errors.Is(err, ErrTemporary) holds.
type RateLimitError struct {
	Method     string
	Channel    string
	RetryAfter time.Duration // from the Retry-After header
	Err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("slack: rate limited on %s to %s: retry after %s", e.Method, e.Channel, e.RetryAfter)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

func (e *RateLimitError) Is(target error) bool { return target == ErrTemporary }

// IsPermanent reports whether err is a failure that must not be retried.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// RetryAfter returns how long Slack asked to wait before the next try, when
// err is (or wraps) a *RateLimitError.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// classify turns an error from slack-go into an *APIError or a
// *RateLimitError.
func classify(err error, method, channel string) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return &RateLimitError{Method: method, Channel: channel, RetryAfter: rl.RetryAfter, Err: err}
	}
	e := &APIError{Method: method, Channel: channel, Err: err}
	var resp slackapi.SlackErrorResponse
	var status slackapi.StatusCodeError
	switch { // anything else (timeouts, connection errors, context ends) is temporary
	case errors.As(err, &resp):
		e.Code = resp.Err
		e.Permanent = permanentCodes[resp.Err]
	case errors.As(err, &status):
		e.Status = status.Code
		e.Permanent = status.Code >= 400 && status.Code < 500 &&
			status.Code != http.StatusRequestTimeout && status.Code != http.StatusTooManyRequests
	}
	return e
}
