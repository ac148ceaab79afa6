package slack_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

func Example() {
	ctx := context.Background()

	// A fake Slack on loopback, as in dev mode.
	fake := slacktest.NewServer(slacktest.Config{Token: "xoxb-dev"})
	defer fake.Close()

	router, err := slackinbox.NewRouter(slackinbox.RouterConfig{
		Default: "#activity",
		Rules:   []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}},
	})
	if err != nil {
		panic(err)
	}
	poster, err := slackinbox.NewPoster(slackinbox.Config{
		Token:   "xoxb-dev",
		APIURL:  fake.APIURL(),
		Router:  router,
		Threads: &slackinbox.MemoryThreads{}, // NewGormThreads(db) in production
	})
	if err != nil {
		panic(err)
	}

	for i, actor := range []string{"Ana", "<!channel> Bob"} {
		ev := activity.Event{
			ID: int64(17 + i), Domain: "issue", SubjectID: "42", Action: "comment_added",
			ActorType: "users", ActorID: "1", ActorLabel: actor, Extra: []byte(`{}`),
			OccurredAt: time.Date(2026, 3, 1, 9, 30+i, 0, 0, time.UTC),
		}
		posted, err := poster.Post(ctx, ev)
		if d, limited := slackinbox.RetryAfter(err); limited {
			fmt.Println("retry in", d)
			continue
		}
		if err != nil {
			panic(err) // IsPermanent(err) tells the job not to retry
		}
		fmt.Printf("%s ts=%s thread=%q\n", posted.Channel, posted.TS, posted.ThreadTS)
	}
	msgs, _ := fake.WaitFor(2, 5*time.Second)
	fmt.Println(msgs[1].Text)
	// Output:
	// CISSUES ts=1700000000.000001 thread=""
	// CISSUES ts=1700000000.000002 thread="1700000000.000001"
	// &lt;!channel&gt; Bob added a comment on issue 42
}
