package slacktest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

func TestServerSpeaksToSlackGo(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: "xoxb-1"})
	api := slack.New("xoxb-1", slack.OptionAPIURL(srv.APIURL()))

	if _, err := api.AuthTestContext(ctx); err != nil {
		t.Fatal(err)
	}
	ch, ts, err := api.PostMessageContext(ctx, "#general", slack.MsgOptionText("hello", false))
	if err != nil || ch != "CGENERAL" || ts == "" {
		t.Fatalf("post: %q %q %v", ch, ts, err)
	}
	_, reply, msg, err := api.PostMessageWithResponseContext(ctx, ch, slack.MsgOptionText("re", false), slack.MsgOptionTS(ts))
	if err != nil || msg.ThreadTimestamp != ts || reply == ts {
		t.Fatalf("reply: ts %q thread %q %v", reply, msg.ThreadTimestamp, err)
	}

	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "not_in_channel"})
	_, _, err = api.PostMessageContext(ctx, ch, slack.MsgOptionText("x", false))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "not_in_channel" {
		t.Errorf("programmed failure gave %v", err)
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 1500 * time.Millisecond})
	_, _, err = api.PostMessageContext(ctx, ch, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Errorf("rate limit gave %v, want RetryAfter 2s (rounded up)", err)
	}

	bad := slack.New("xoxb-2", slack.OptionAPIURL(srv.APIURL()))
	if _, err := bad.AuthTestContext(ctx); !errors.As(err, &se) || se.Err != "invalid_auth" {
		t.Errorf("wrong token gave %v", err)
	}

	if err := slack.PostWebhookContext(ctx, srv.WebhookURL("T/B/x"), &slack.WebhookMessage{Text: "hook"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[2].Method != slacktest.MethodWebhook || msgs[2].Webhook != "T/B/x" || msgs[2].Text != "hook" {
		t.Errorf("webhook message %+v", msgs[2])
	}
	if srv.Calls(slacktest.MethodPostMessage) != 4 {
		t.Errorf("Calls = %d, want 4", srv.Calls(slacktest.MethodPostMessage))
	}
}
