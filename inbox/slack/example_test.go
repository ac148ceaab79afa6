package slack_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
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

// The Slack inbox as the worker runs it: a 429 asks the worker to wait
// Slack's delay; the retry posts; processing the event again posts nothing.
func ExampleInbox() {
	ctx := context.Background()
	fake := slacktest.NewServer(slacktest.Config{})
	defer fake.Close()
	router, _ := slackinbox.NewRouter(slackinbox.RouterConfig{Default: "#activity"})
	poster, _ := slackinbox.NewPoster(slackinbox.Config{Token: "xoxb-dev", APIURL: fake.APIURL(), Router: router})
	in, err := slackinbox.NewInbox(slackinbox.InboxConfig{Publisher: poster})
	if err != nil {
		panic(err)
	}

	fake.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{RetryAfter: 30 * time.Second})
	ev := activity.Event{
		ID: keySeq.Add(1), Domain: "issue", SubjectID: "42", Action: "closed",
		ActorType: "users", ActorID: "1", ActorLabel: "Ana", Extra: []byte(`{}`),
	}
	for attempt := 1; attempt <= 3; attempt++ {
		d := &inbox.Delivery{Inbox: in.Name(), Event: ev, Attempt: attempt, MaxAttempts: 3, DB: testDB, Ledger: inbox.NewLedger(inbox.LedgerConfig{})}
		err := in.Process(ctx, d)
		var ra *inbox.RetryAfterError
		if errors.As(err, &ra) {
			fmt.Println("attempt", attempt, "retry after", ra.Delay)
			continue
		}
		fmt.Println("attempt", attempt, "ok:", err == nil)
	}
	fmt.Println(len(fake.Messages()), "message:", fake.Messages()[0].Text)
	// Output:
	// attempt 1 retry after 30s
	// attempt 2 ok: true
	// attempt 3 ok: true
	// 1 message: Ana closed issue 42
}
