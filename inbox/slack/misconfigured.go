package slack

import (
	"errors"
	"net/http"

	"github.com/tidingsdev/tidings/inbox"
)

// misconfiguredCode reports whether a Slack error code refuses the app's
// configuration rather than one message: the token (invalid_auth,
// not_authed, account_inactive, token_revoked, ...), the channel a route
// names (channel_not_found, not_in_channel, is_archived), the app's
// scopes, a removed webhook. Slack is up, and every post routed the same
// way is refused alike until someone fixes the configuration: not an
// outage to wait out, not a bad message either.
func misconfiguredCode(code string) bool {
	switch code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "invalid_token",
		"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
		"missing_scope", "no_permission", "not_allowed_token_type",
		"no_service", "action_prohibited":
		return true
	}
	return false
}

// misconfigured returns err as an inbox.MisconfiguredError of sink when
// Slack refused the configuration (misconfiguredCode, or an incoming
// webhook answering 401, 403, 404 or 410), its reason the hint of what to
// fix; otherwise nil. The worker fails the job at once (a dead letter
// saying why), the breaker of sink records the reason and health reports
// the sink down; the ledger row is released, so a re-drive after the fix
// posts.
func misconfigured(sink string, err error) error {
	var api *APIError
	if !errors.As(err, &api) || !api.Permanent {
		return nil
	}
	switch {
	case misconfiguredCode(api.Code):
		return inbox.Misconfigured(sink, hint(err), err)
	case api.Method == "webhook" && api.Code == "":
		switch api.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
			return inbox.Misconfigured(sink, "the incoming webhook was removed, disabled or its URL is wrong: create a new one", err)
		}
	}
	return nil
}

// jobError is JobError for the inbox's own posts: a refused configuration
// is the inbox's sink's MisconfiguredError.
func (in *Inbox) jobError(err error) error {
	if mis := misconfigured(in.Sink(), err); mis != nil {
		return mis
	}
	return JobError(err)
}
