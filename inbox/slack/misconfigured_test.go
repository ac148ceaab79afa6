package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/observe"
)

// A refusal of the app's configuration (the token, the channel a route
// names, the bot's membership, a removed webhook) is an
// inbox.MisconfiguredError of the poster's sink, with the hint of what to
// fix as its reason, not an outage (no ErrSinkDown): the worker fails it at
// once. A refusal of one message stays a plain permanent error. Nothing is
// recorded as sent: the re-drive after the fix posts.
func TestMisconfigurationIsNotAnOutage(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	p := unpacedPoster(t, srv)
	in := newInbox(t, p)
	for code, hint := range map[string]string{
		"invalid_auth":      "bot token",
		"not_authed":        "bot token",
		"account_inactive":  "bot token",
		"token_revoked":     "bot token",
		"channel_not_found": "check the routing",
		"not_in_channel":    "/invite",
		"is_archived":       "archived",
		"missing_scope":     "chat:write",
	} {
		srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: code})
		ev := newEvent(unique("42"), "comment_added", "Ana", nil)
		err := deliver(t, in, ev)
		var mis *inbox.MisconfiguredError
		if !errors.As(err, &mis) || mis.Sink != p.Sink() || !strings.Contains(mis.Reason, hint) || strings.Contains(mis.Reason, code) ||
			!inbox.IsPermanent(err) || errors.Is(err, inbox.ErrSinkDown) || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: %v; want a MisconfiguredError of %s whose reason says %q (the code in the error, not in the reason)", code, err, p.Sink(), hint)
		}
		mustDeliver(t, in, ev) // the re-drive after the fix
	}
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "msg_too_long"})
	err := deliver(t, in, newEvent(unique("42"), "comment_added", "Ana", nil))
	if !inbox.IsPermanent(err) || errors.Is(err, inbox.ErrMisconfigured) {
		t.Errorf("msg_too_long: %v; want permanent, not a misconfiguration (one message, not the setup)", err)
	}
	if n := len(srv.Messages()); n != 8 {
		t.Errorf("%d messages after the re-drives, want 8", n)
	}

	// Incoming webhooks: 401, 403, 404 and 410 refuse the configuration;
	// a 400 (the payload) does not.
	wh := newInbox(t, webhookPoster(t, srv))
	for _, f := range []slacktest.Failure{{Error: "no_service"}, {Error: "invalid_token"}, {Error: "channel_is_archived"}, {Error: "action_prohibited"}, {Status: 401}} {
		srv.FailNext(slacktest.MethodWebhook, 1, f)
		err := deliver(t, wh, newEvent(unique("42"), "comment_added", "Ana", nil))
		if !errors.Is(err, inbox.ErrMisconfigured) || strings.Contains(err.Error(), "secret") {
			t.Errorf("webhook %+v: %v; want a misconfiguration, without the webhook URL", f, err)
		}
	}
	srv.FailNext(slacktest.MethodWebhook, 1, slacktest.Failure{Error: "invalid_payload"})
	if err := deliver(t, wh, newEvent(unique("42"), "comment_added", "Ana", nil)); !inbox.IsPermanent(err) || errors.Is(err, inbox.ErrMisconfigured) {
		t.Errorf("webhook invalid_payload: %v; want permanent, not a misconfiguration", err)
	}
}

// Through the real worker: a revoked token fails the delivery on its
// first attempt, the dead letter gives the reason, health reports the
// sink down with it (in the worker's process and from the status it
// publishes), and the sink's next accepted post clears it.
func TestWorkerReportsMisconfiguredSlack(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	p := unpacedPoster(t, srv)
	in, w, attempts := startWorker(t, p, func(c *inbox.Config) {
		c.Breakers = inbox.BreakerConfig{Failures: 1}
		c.StatusInterval = 100 * time.Millisecond
	})
	record := func() activity.Event {
		t.Helper()
		var issueID int64
		if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&issueID).Error; err != nil {
			t.Fatal(err)
		}
		res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Event
	}

	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "token_revoked"})
	ev := record()
	var mis *inbox.MisconfiguredError
	if err := nextAttempt(t, attempts).err; !errors.As(err, &mis) || mis.Sink != p.Sink() {
		t.Fatalf("the delivery failed with %v; want a MisconfiguredError of %s", err, p.Sink())
	}
	reason := mis.Reason
	var letters []inbox.DeadLetter
	waitUntil(t, wait, "the dead letter", func() bool {
		page, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: in.Name()})
		if err != nil {
			t.Fatal(err)
		}
		letters = page.Letters
		return len(letters) == 1
	})
	if l := letters[0]; l.Event != ev.Ref() || l.Attempts != 1 || !strings.Contains(l.LastError, reason) {
		t.Errorf("dead letter %+v; want one attempt of %v saying %q", l, ev.Ref(), reason)
	}
	select {
	case a := <-attempts:
		t.Errorf("another attempt after the configuration failure: %v", a.err)
	default:
	}
	r := observe.BreakersCheck(w).Check(ctx)
	if r.Status != observe.StatusDown || !strings.Contains(r.Detail, p.Sink()) || !strings.Contains(r.Detail, reason) {
		t.Errorf("health %+v; want down naming %s and %q", r, p.Sink(), reason)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: redisDB})
	defer rdb.Close()
	published := observe.WorkerBreakersCheck(rdb, "")
	waitUntil(t, wait, "the published status to say so", func() bool {
		r = published.Check(ctx)
		return r.Status == observe.StatusDown && strings.Contains(r.Detail, reason)
	})

	// Fixed: the next post is accepted and health is up again.
	record()
	if err := nextAttempt(t, attempts).err; err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	if r := observe.BreakersCheck(w).Check(ctx); r.Status != observe.StatusOK {
		t.Errorf("health after an accepted post: %+v; want ok", r)
	}
}

// unpacedPoster is poster without the per-channel pacing (one post a
// second): these tests post many times to one channel and time nothing.
func unpacedPoster(t *testing.T, srv *slacktest.Server) *slackinbox.Poster {
	t.Helper()
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token:       token,
		APIURL:      srv.APIURL(),
		Router:      router(t, slackinbox.RouterConfig{Default: "#activity", Rules: []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}}}),
		ChannelRate: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
