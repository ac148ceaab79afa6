package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The command shows a backfill's progress as the Backfiller stores it.
func TestStatusAndList(t *testing.T) {
	ctx := context.Background()
	issues := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added"}})
	up, _ := activity.MigrationSQL(issues)
	db, err := pgtest.Create(ctx, "tidings_test_backfillcmd", `CREATE TABLE issues (id bigserial PRIMARY KEY)`, up)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := redistest.Flush(ctx, 11)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`INSERT INTO issues DEFAULT VALUES`)
	for range 30 {
		if _, err := issues.RecordEvent(ctx, db, 1, "comment_added", activity.Actor(activity.System("test"))); err != nil {
			t.Fatal(err)
		}
	}
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: db, Redis: asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB}, Domains: []*activity.Domain{issues},
		Inboxes: []inbox.Inbox{inbox.Func("sink", nil, nil)}, Rate: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	b, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "sink", Query: inbox.BackfillQuery{Domain: "issue"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bf.Run(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"-db", pgtest.DSN("tidings_test_backfillcmd"), "status", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "backfill 1: issue of all events to sink: done, 30/30 events (100.0%)") {
		t.Errorf("status: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"-db", pgtest.DSN("tidings_test_backfillcmd"), "watch", "1"}, &out); err != nil || !strings.Contains(out.String(), "done, 30/30") {
		t.Errorf("watch: %s %v", out.String(), err)
	}
	if err := run(ctx, []string{"-db", pgtest.DSN("tidings_test_backfillcmd"), "status", "x'1"}, &out); err == nil {
		t.Errorf("a bad ID was accepted")
	}
}
