package workflow

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
)

// SlackConfig configures the post_slack action: the Slack Web API, through
// package inbox/slack's Poster (slack-go's client).
type SlackConfig struct {
	// Token is the bot token ("xoxb-..."). Required.
	Token string
	// APIURL is the Web API base, ending in "/". Default Slack's; tests
	// and dev mode point it at a slacktest server.
	APIURL string
	// HTTPClient makes the calls. Default: inbox/slack's (10s timeout).
	HTTPClient *http.Client
}

// MaxSlackTextLength caps the post_slack action's text, in bytes.
const MaxSlackTextLength = 3000

// slackAction is the built-in post_slack: it posts the rule's text to a
// channel. The text is the rule author's, escaped for Slack (& < > become
// entities), so it mentions nobody (<!channel> shows as text). A refusal
// no retry can fix (channel_not_found, not_in_channel, invalid_auth, ...)
// is permanent; a rate limit waits Slack's Retry-After.
func slackAction(cfg SlackConfig) Action {
	return Action{
		Doc: "Post a message to a Slack channel.",
		Params: ParamSchema{
			"channel": {Type: String, Required: true, Doc: `a channel name ("#support") or ID ("C0123ABC")`},
			"text":    {Type: String, Required: true, Doc: "the message, as plain text"},
		},
		External: true,
		Check: func(_ context.Context, c CheckContext) []Problem {
			var ps []Problem
			if ch := c.Params.String("channel"); strings.ContainsAny(ch, " \t\r\n") || len(ch) > 80 {
				ps = append(ps, Problem{Field: "channel", Message: fmt.Sprintf("%s is not a channel: use a name such as \"#support\" or an ID such as \"C0123ABC\"", quote(ch))})
			}
			if t := c.Params.String("text"); len(t) > MaxSlackTextLength {
				ps = append(ps, Problem{Field: "text", Message: fmt.Sprintf("is %d bytes; at most %d are allowed", len(t), MaxSlackTextLength)})
			}
			return ps
		},
		Run: func(ctx context.Context, ac ActionContext) (Result, error) {
			channel, text := ac.Params.String("channel"), ac.Params.String("text")
			router, err := slackinbox.NewRouter(slackinbox.RouterConfig{Default: channel})
			if err != nil {
				return Result{}, inbox.Permanent(err)
			}
			poster, err := slackinbox.NewPoster(slackinbox.Config{
				Token:      cfg.Token,
				APIURL:     cfg.APIURL,
				HTTPClient: cfg.HTTPClient,
				Router:     router,
				Builders: slackinbox.NewBuilders(func(context.Context, activity.Event) (slackinbox.Message, error) {
					return slackinbox.Message{Text: slackinbox.Escape(text)}, nil
				}),
				Logger: ac.Logger,
			})
			if err != nil {
				return Result{}, inbox.Permanent(err)
			}
			posted, err := poster.Post(ctx, ac.Event)
			if err != nil {
				return Result{}, slackinbox.JobError(err)
			}
			return Result{
				Summary: fmt.Sprintf("posted to %s", channel),
				Data:    map[string]any{"channel": posted.Channel, "ts": posted.TS},
			}, nil
		},
	}
}
