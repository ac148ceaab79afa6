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

	// ErrThreadBusy matches a post that waited Config.ThreadWait for an
	// earlier post of its thread (its parent, an earlier reply) and gave
	// up: it comes back in a *RateLimitError, so the job retries soon,
	// still in order. It is temporary.
	ErrThreadBusy = errors.New("slack: an earlier post of this thread is still in flight")
)

// permanentCode reports whether a Slack error code is one no retry can fix:
// the token, the channel or the message itself is wrong. Every other code
// (ratelimited, internal_error, fatal_error, service_unavailable,
// request_timeout, ...) is temporary.
func permanentCode(code string) bool {
	switch code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
		"no_permission", "missing_scope", "not_allowed_token_type", "access_denied",
		"ekm_access_denied", "team_access_not_granted", "two_factor_setup_required",
		"org_login_required", "enterprise_is_restricted", "invalid_token", "channel_not_found",
		"not_in_channel", "is_archived", "channel_is_archived", "restricted_action",
		"restricted_action_read_only_channel", "restricted_action_thread_only_channel",
		"restricted_action_non_threadable_channel", "posting_to_general_channel_denied",
		"no_service", "action_prohibited", "user_not_found", "invalid_blocks",
		"invalid_blocks_format", "invalid_arguments", "invalid_arg_name", "invalid_array_arg",
		"invalid_charset", "invalid_form_data", "invalid_post_type", "missing_post_type",
		"msg_too_long", "no_text", "too_many_attachments", "invalid_payload",
		"invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
		"as_user_not_supported", "method_deprecated", "deprecated_endpoint", "unknown_method":
		return true
	}
	return false
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
		e.Permanent = permanentCode(resp.Err)
	case errors.As(err, &status):
		e.Status = status.Code
		e.Permanent = status.Code >= 400 && status.Code < 500 &&
			status.Code != http.StatusRequestTimeout && status.Code != http.StatusTooManyRequests
	}
	return e
}
