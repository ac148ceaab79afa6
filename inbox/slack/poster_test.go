package slack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

func TestPostLandsInRoutedChannel(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	p := poster(t, srv, nil)

	ev := event(17, "42", "comment_added", "Ana", map[string]any{"body": "Looks good"})
	posted, err := p.Post(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.Channel != "CISSUES" || posted.Channel != "CISSUES" || posted.TS != got.TS || posted.TS == "" || posted.ThreadTS != "" {
		t.Errorf("posted %+v, server has channel %q ts %q; want CISSUES and the server's ts", posted, got.Channel, got.TS)
	}
	if got.Token != token {
		t.Errorf("token %q", got.Token)
	}
	if got.Text != "Ana added a comment on issue 42" {
		t.Errorf("text %q", got.Text)
	}
	texts := strings.Join(got.Texts(), "\n")
	for _, want := range []string{"*Ana* added a comment on issue 42", "*body*\nLooks good", "issue#17"} {
		if !strings.Contains(texts, want) {
			t.Errorf("blocks lack %q:\n%s", want, texts)
		}
	}

	other := event(18, "7", "paid", "Ana", nil)
	other.Domain = "invoice"
	if posted, err := p.Post(ctx, other); err != nil || posted.Channel != "CACTIVITY" {
		t.Errorf("unrouted domain posted to %+v (%v), want the default #activity", posted, err)
	}
}

// controlSequence matches what Slack would act on in text.
var controlSequence = regexp.MustCompile(`<[!@#]|<https?:|<mailto:`)

func TestUserTextArrivesEscaped(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	p := poster(t, srv, nil)

	ev := event(19, "42", "comment_added", "<!channel> Ana & <@U123>", map[string]any{
		"body":      "<!here> look <#C999|general> & <https://evil.example|click me>",
		"<!subteam": "<!everyone>",
	})
	rt, rid, rl := "comments", "5", "<@U999> &amp; <!channel>"
	ev.RecordType, ev.RecordID, ev.RecordLabel = &rt, &rid, &rl
	if _, err := p.Post(ctx, ev); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(msgs[0].Texts(), "\n")
	// The only control sequence allowed is the <!date^...> the builder writes itself.
	stripped := regexp.MustCompile(`<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>]*>`).ReplaceAllString(all, "")
	if loc := controlSequence.FindStringIndex(stripped); loc != nil {
		t.Errorf("unescaped control sequence %q in:\n%s", stripped[loc[0]:min(loc[1]+10, len(stripped))], all)
	}
	stripped = regexp.MustCompile(`(?m)^>`).ReplaceAllString(stripped, "") // the builder's block quote
	if strings.ContainsAny(stripped, "<>") {
		t.Errorf("raw angle bracket in:\n%s", stripped)
	}
	for _, want := range []string{
		"&lt;!channel&gt; Ana &amp; &lt;@U123&gt;",
		"&lt;!here&gt; look &lt;#C999|general&gt; &amp; &lt;https://evil.example|click me&gt;",
		"&lt;@U999&gt; &amp;amp; &lt;!channel&gt;",
		"&lt;!everyone&gt;",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing escaped %q in:\n%s", want, all)
		}
	}
	if msgs[0].Text != "&lt;!channel&gt; Ana &amp; &lt;@U123&gt; added a comment on issue 42" {
		t.Errorf("notification text %q", msgs[0].Text)
	}
}

func TestSecondEventRepliesInThread(t *testing.T) {
	stores := map[string]slackinbox.ThreadStore{
		"memory":   &slackinbox.MemoryThreads{},
		"postgres": slackinbox.NewGormThreads(testDB),
	}
	// OmitThreadTS: answers without message.thread_ts (as slack-go's own
	// fake gives) must not re-parent the thread.
	for _, omit := range []bool{false, true} {
		for name, store := range stores {
			t.Run(fmt.Sprintf("%s/omit_thread_ts=%v", name, omit), func(t *testing.T) {
				ctx := context.Background()
				srv := slacktest.Start(t, slacktest.Config{Token: token, OmitThreadTS: omit})
				subject := unique("thread-" + name)
				p, err := slackinbox.NewPoster(slackinbox.Config{
					Token: token, APIURL: srv.APIURL(), Threads: store, ChannelRate: 10 * time.Millisecond,
					Router: router(t, slackinbox.RouterConfig{Rules: []slackinbox.Rule{
						{Domain: "issue", Channel: "#issues"},
						{Domain: "issue", Action: "deleted", Channel: "#audit"},
					}}),
				})
				if err != nil {
					t.Fatal(err)
				}
				first, err := p.Post(ctx, event(20, subject, "created", "Ana", nil))
				if err != nil {
					t.Fatal(err)
				}
				second, err := p.Post(ctx, event(21, subject, "comment_added", "Bob", nil))
				if err != nil {
					t.Fatal(err)
				}
				third, err := p.Post(ctx, event(22, subject, "comment_added", "Carol", nil))
				if err != nil {
					t.Fatal(err)
				}
				elsewhere, err := p.Post(ctx, event(23, subject+"-other", "comment_added", "Bob", nil))
				if err != nil {
					t.Fatal(err)
				}
				audit, err := p.Post(ctx, event(24, subject, "deleted", "Bob", nil))
				if err != nil {
					t.Fatal(err)
				}
				if first.ThreadTS != "" {
					t.Errorf("first event is a reply: %+v", first)
				}
				if second.ThreadTS != first.TS || third.ThreadTS != first.TS || second.Channel != first.Channel {
					t.Errorf("later events %+v %+v do not reply to %+v", second, third, first)
				}
				if elsewhere.ThreadTS != "" {
					t.Errorf("another subject joined a thread: %+v", elsewhere)
				}
				if audit.Channel != "CAUDIT" || audit.ThreadTS != "" {
					t.Errorf("event routed to #audit is %+v, want a new message in CAUDIT", audit)
				}
				msgs, err := srv.WaitFor(5, wait)
				if err != nil {
					t.Fatal(err)
				}
				if msgs[1].ThreadTS != msgs[0].TS || msgs[2].ThreadTS != msgs[0].TS {
					t.Errorf("server saw thread_ts %q %q, want %q", msgs[1].ThreadTS, msgs[2].ThreadTS, msgs[0].TS)
				}

				// The parent is deleted: the next event lands at top level and opens the thread anew.
				srv.DeleteMessage(first.Channel, first.TS)
				fresh, err := p.Post(ctx, event(25, subject, "comment_added", "Dan", nil))
				if err != nil {
					t.Fatal(err)
				}
				after, err := p.Post(ctx, event(26, subject, "comment_added", "Erin", nil))
				if err != nil {
					t.Fatal(err)
				}
				if fresh.ThreadTS != "" || after.ThreadTS != fresh.TS {
					t.Errorf("after deleting the parent: %+v then %+v, want a new parent then a reply to it", fresh, after)
				}
				if got := srv.Messages(); got[len(got)-1].ThreadTS != fresh.TS {
					t.Errorf("server saw the last reply in thread %q, want %q", got[len(got)-1].ThreadTS, fresh.TS)
				}
			})
		}
	}
}

func TestRateLimitCarriesRetryAfter(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	p := poster(t, srv, &slackinbox.MemoryThreads{})
	// A Retry-After beyond MaxWait (10s) goes back to the job layer.
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 20 * time.Second})

	ev := event(30, "42", "comment_added", "Ana", nil)
	_, err := p.Post(ctx, ev)
	var rl *slackinbox.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 20*time.Second {
		t.Fatalf("Post error %v, want a RateLimitError with RetryAfter 20s", err)
	}
	if d, ok := slackinbox.RetryAfter(err); !ok || d != 20*time.Second {
		t.Errorf("RetryAfter(err) = %v, %v", d, ok)
	}
	if slackinbox.IsPermanent(err) || !errors.Is(err, slackinbox.ErrTemporary) {
		t.Errorf("a rate limit must be temporary: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("rate-limited post left %d messages", n)
	}
	if _, err := p.Post(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n, calls := len(srv.Messages()), srv.Calls(slacktest.MethodPostMessage); n != 1 || calls != 2 {
		t.Errorf("after the retry: %d messages from %d calls, want 1 from 2", n, calls)
	}
}

func TestSlackErrorsAreClassified(t *testing.T) {
	cases := []struct {
		failure   slacktest.Failure
		code      string
		status    int
		permanent bool
	}{
		{slacktest.Failure{Error: "channel_not_found"}, "channel_not_found", 0, true},
		{slacktest.Failure{Error: "invalid_auth"}, "invalid_auth", 0, true},
		{slacktest.Failure{Error: "not_in_channel"}, "not_in_channel", 0, true},
		{slacktest.Failure{Error: "is_archived"}, "is_archived", 0, true},
		{slacktest.Failure{Error: "internal_error"}, "internal_error", 0, false},
		{slacktest.Failure{Error: "service_unavailable", Status: 503}, "", 503, false},
	}
	for _, c := range cases {
		t.Run(c.failure.Error, func(t *testing.T) {
			srv := slacktest.Start(t, slacktest.Config{Token: token})
			p := poster(t, srv, nil)
			srv.FailNext(slacktest.MethodPostMessage, 1, c.failure)
			_, err := p.Post(context.Background(), event(31, "42", "comment_added", "Ana", nil))
			var ae *slackinbox.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if ae.Code != c.code || ae.Status != c.status || ae.Permanent != c.permanent || slackinbox.IsPermanent(err) != c.permanent {
				t.Errorf("got code %q status %d permanent %v, want %q %d %v", ae.Code, ae.Status, ae.Permanent, c.code, c.status, c.permanent)
			}
			if ae.Channel != "#issues" || ae.Method != "chat.postMessage" {
				t.Errorf("error names %s to %s", ae.Method, ae.Channel)
			}
			if c.code != "" && !strings.Contains(err.Error(), c.code) {
				t.Errorf("error text %q lacks the code", err)
			}
			if errors.Is(err, slackinbox.ErrPermanent) == errors.Is(err, slackinbox.ErrTemporary) {
				t.Errorf("%v must match exactly one of ErrPermanent and ErrTemporary", err)
			}
		})
	}
}

func TestWrongTokenIsPermanent(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: "xoxb-other"})
	p := poster(t, srv, nil)
	if err := p.AuthTest(context.Background()); !slackinbox.IsPermanent(err) {
		t.Errorf("AuthTest with a wrong token gave %v, want a permanent error", err)
	}
	_, err := p.Post(context.Background(), event(32, "42", "comment_added", "Ana", nil))
	var ae *slackinbox.APIError
	if !errors.As(err, &ae) || ae.Code != "invalid_auth" || !ae.Permanent {
		t.Errorf("Post with a wrong token gave %v", err)
	}
	good := slacktest.Start(t, slacktest.Config{Token: token})
	if err := poster(t, good, nil).AuthTest(context.Background()); err != nil {
		t.Errorf("AuthTest with the right token: %v", err)
	}
}

func TestConnectionErrorIsTemporary(t *testing.T) {
	srv := slacktest.NewServer(slacktest.Config{})
	p := poster(t, srv, nil)
	srv.Close()
	_, err := p.Post(context.Background(), event(33, "42", "comment_added", "Ana", nil))
	if err == nil || slackinbox.IsPermanent(err) || !errors.Is(err, slackinbox.ErrTemporary) {
		t.Errorf("closed server gave %v, want a temporary error", err)
	}
}

// failingPuts is a ThreadStore whose Put always fails.
type failingPuts struct{ slackinbox.MemoryThreads }

func (*failingPuts) Put(context.Context, slackinbox.ThreadKey, string, string) error {
	return errors.New("database is down")
}

func TestAcceptedPostNeverFailsOnThreadSave(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	var logs bytes.Buffer
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token: token, APIURL: srv.APIURL(), Threads: &failingPuts{},
		Router: router(t, slackinbox.RouterConfig{Default: "#activity"}),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	posted, err := p.Post(context.Background(), event(34, "42", "comment_added", "Ana", nil))
	if err != nil || posted.TS == "" {
		t.Fatalf("Post returned %+v, %v; want the accepted message and no error", posted, err)
	}
	if !strings.Contains(logs.String(), "database is down") {
		t.Errorf("the lost thread was not logged: %q", logs.String())
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestNoRouteIsPermanent(t *testing.T) {
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token: token, APIURL: srv.APIURL(),
		Router: router(t, slackinbox.RouterConfig{Rules: []slackinbox.Rule{{Domain: "invoice", Channel: "#billing"}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := event(35, "42", "comment_added", "Ana", nil)
	if p.Accepts(ev) {
		t.Error("Accepts an event no rule routes")
	}
	_, err = p.Post(context.Background(), ev)
	if !errors.Is(err, slackinbox.ErrNoRoute) || !slackinbox.IsPermanent(err) {
		t.Errorf("unroutable event gave %v", err)
	}
	if srv.Calls(slacktest.MethodPostMessage) != 0 {
		t.Error("an unroutable event reached Slack")
	}
}

func TestNewPosterRejectsBadConfig(t *testing.T) {
	r := router(t, slackinbox.RouterConfig{Default: "#a"})
	for name, cfg := range map[string]slackinbox.Config{
		"no token":  {Router: r},
		"no router": {Token: token},
	} {
		if _, err := slackinbox.NewPoster(cfg); !errors.Is(err, slackinbox.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// Posts to one channel are spaced ChannelRate apart by waiting, not
// refused; a 429 with a short Retry-After is waited out inside Post, so
// the job spends no retry on it.
func TestChannelRateLimiterWaits(t *testing.T) {
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: token})
	const rate = 150 * time.Millisecond
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token: token, APIURL: srv.APIURL(), ChannelRate: rate,
		Router: router(t, slackinbox.RouterConfig{Default: "#activity", Rules: []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 4 {
		if _, err := p.Post(ctx, event(int64(40+i), unique("rate"), "comment_added", "Ana", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 3*rate {
		t.Errorf("4 posts to one channel took %v, want at least %v (3 waits of ChannelRate)", took, 3*rate)
	}
	if _, err := p.Post(ctx, event(50, unique("rate"), "comment_added", "Ana", nil)); err != nil {
		t.Fatal(err)
	}
	// A 429 asking for 1s: Post waits and posts, with no error for the job.
	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: time.Second})
	start = time.Now()
	if _, err := p.Post(ctx, event(51, unique("rate"), "comment_added", "Ana", nil)); err != nil {
		t.Fatalf("a 429 with Retry-After 1s failed the post: %v", err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("posted %v after a 429 asking for 1s", took)
	}
	if n := srv.Calls(slacktest.MethodPostMessage); n != 7 {
		t.Errorf("%d calls, want 7 (6 posts and the 429)", n)
	}
}
