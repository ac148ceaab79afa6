package inbox_test

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
)

// Redis locations as the demo and cmd/bench take them: one server, or a
// Redis Cluster (its slot map reloaded every 500ms, so a failover stalls
// deliveries for seconds, not a minute).
func ExampleParseRedis() {
	for _, s := range []string{"127.0.0.1:6379", "redis://:secret@cache:6380/2", "cluster://10.0.0.1:7000,10.0.0.2:7000", "10.0.0.1:7000,10.0.0.2:7000"} {
		opt, err := inbox.ParseRedis(s, 0)
		if err != nil {
			panic(err)
		}
		switch o := opt.(type) {
		case asynq.RedisClientOpt:
			fmt.Printf("server %s db %d\n", o.Addr, o.DB)
		case inbox.RedisClusterOpt:
			fmt.Printf("cluster %v\n", o.Addrs)
		}
	}
	_, err := inbox.ParseRedis("cluster://10.0.0.1", 0)
	fmt.Println(err)
	// Output:
	// server 127.0.0.1:6379 db 0
	// server cache:6380 db 2
	// cluster [10.0.0.1:7000 10.0.0.2:7000]
	// cluster [10.0.0.1:7000 10.0.0.2:7000]
	// inbox: Redis address "cluster://10.0.0.1" has "10.0.0.1", not host:port; use host:port, redis://[user:password@]host:port/db, or cluster://host:port,host:port
}

// The suppression list: a bounced address is skipped by every later send
// until it is removed.
func ExampleSuppress() {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE inbox_suppressions`)
	err := inbox.Suppress(ctx, testDB, inbox.Suppression{
		Channel: inbox.ChannelEmail, Address: "Ana@Example.com", Reason: inbox.ReasonHardBounce, Source: "ses", Detail: "550 5.1.1 no such user",
	})
	if err != nil {
		panic(err)
	}
	s, _ := inbox.Suppressed(ctx, testDB, inbox.ChannelEmail, []string{"ana@example.com", "bob@example.com"})
	fmt.Println(len(s), s["ana@example.com"].Reason)
	removed, _ := inbox.Unsuppress(ctx, testDB, inbox.ChannelEmail, "ana@example.com")
	fmt.Println(removed)
	err = inbox.Suppress(ctx, testDB, inbox.Suppression{Channel: inbox.ChannelEmail, Address: "x@example.com", Reason: "bounced"})
	fmt.Println(err)
	// Output:
	// 1 hard_bounce
	// true
	// inbox: suppression Reason "bounced" is not one of hard_bounce, complaint, manual, unsubscribe
}
