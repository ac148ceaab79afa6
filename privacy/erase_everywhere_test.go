package privacy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/notify"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/workflow"
)

// The done-when test of "erasure leaves nothing anywhere", with the
// machinery running: a worker (relay, asynq server, in-app notifications,
// mail through SMTP, Slack, the workflow engine) on a Redis of the test's
// own, the engine's Run keeping its rules current, and jobs in every
// state when the erasure comes: one pending in a paused queue, one waiting
// for a retry, one dead-lettered, and one running (it loaded Zoe's event
// before the erasure and writes its label after it: EraseSettled erases
// again once it is done). After EraseSettled, and after Bob's next comment
// (which the engine, its rule cached before the erasure, runs the masked
// rule on), none of Zoe's strings (name, email, IP address, user agent, a
// retraction reason naming her) is in any column of any table (every
// column of every table in pg_catalog, bytea decoded, whatever its type)
// nor in any key or value of the app's Redis database.
func TestEraseLeavesNothingAnywhere(t *testing.T) {
	ctx := context.Background()
	zoe := newUser(t, someone{name: "Zoe Everywhere", email: "zoe.everywhere@example.net", ip: "192.0.2.201", ua: "ZoeAgent/3.3 (everywhere)", slack: "U0ZOEEVERY"})
	bob := newUser(t, someone{name: "Bob Bystander", email: "bob.bystander@example.net", ip: "192.0.2.202", ua: "BobAgent/1.0"})
	mod := activity.Ref{Type: "users", ID: "moderator", Label: "Mo Derator"}
	reason := "duplicate, asked by " + zoe.name
	zoeStrings := append(zoe.strings(), reason)
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Everywhere') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	ours := func(ev activity.Event) bool { return ev.Domain == "issue" && ev.SubjectID == fmt.Sprint(issueID) }

	rds := redistest.NewPrivate(t)
	redisOpt := asynq.RedisClientOpt{Addr: rds.Addr()}
	insp := asynq.NewInspector(redisOpt)
	t.Cleanup(func() { insp.Close() })

	// The inboxes. In-app notifications and mail go to Zoe and Bob.
	both := func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
		return []string{zoe.key(), bob.key()}, nil
	}
	app, err := notify.New(notify.Config{Name: "app", Recipients: both, RecipientType: "users"})
	if err != nil {
		t.Fatal(err)
	}
	smtpSrv := smtptest.Start(t, smtptest.Config{})
	sender, err := email.NewSender(email.Config{Host: smtpSrv.Host(), Port: smtpSrv.Port(), TLS: email.TLSNone, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tpls := email.NewTemplates(email.TemplatesConfig{})
	if err := tpls.Register("issue", email.AnyAction, email.DefaultTemplate()); err != nil {
		t.Fatal(err)
	}
	builder, err := email.NewBuilder(email.BuilderConfig{From: "Tracker <notify@example.com>", Templates: tpls,
		SubjectURL: func(ev activity.Event) string { return "https://tracker.example.com/issue/" + ev.SubjectID }})
	if err != nil {
		t.Fatal(err)
	}
	mail, err := email.NewInbox(email.InboxConfig{Name: "mail", Builder: builder, Transport: sender, DB: testDB, RecipientType: "users",
		Accepts: inbox.On("issue", "comment_added"),
		Recipients: func(_ context.Context, _ *gorm.DB, ev activity.Event) ([]email.Recipient, error) {
			if !ours(ev) {
				return nil, nil
			}
			return []email.Recipient{zoe.recipient(), bob.recipient()}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	slackSrv := slacktest.Start(t, slacktest.Config{})
	router, err := slackinbox.NewRouter(slackinbox.RouterConfig{Default: "#activity"})
	if err != nil {
		t.Fatal(err)
	}
	poster, err := slackinbox.NewPoster(slackinbox.Config{Token: "xoxb-test", APIURL: slackSrv.APIURL(), Router: router, Threads: slackinbox.NewGormThreads(testDB)})
	if err != nil {
		t.Fatal(err)
	}
	slack, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: "slack", Publisher: poster, Accepts: inbox.On("issue", "comment_added")})
	if err != nil {
		t.Fatal(err)
	}

	// Jobs in every state. "held" serves a paused queue: its job stays
	// pending. "flaky" fails with an error that names Zoe and retries in
	// an hour. "doomed" refuses Zoe's comment for good: a dead letter.
	// They take Bob's invitation of Zoe (her address in a personal path
	// and a tag) and her comment.
	failed := make(chan struct{}, 1)
	held := inbox.WithPolicy(inbox.Func("held", inbox.On("issue", "invited"), func(context.Context, *inbox.Delivery) error { return nil }),
		inbox.Policy{Queue: "held"})
	flaky := inbox.WithPolicy(inbox.Func("flaky", inbox.On("issue", "invited"), func(_ context.Context, d *inbox.Delivery) error {
		if !ours(d.Event) {
			return nil
		}
		select {
		case failed <- struct{}{}:
		default:
		}
		return fmt.Errorf("451 try later: mailbox of %s <%s> is busy", zoe.name, zoe.email)
	}), inbox.Policy{Queue: "flaky", MaxRetry: 20, Backoff: func(int) time.Duration { return time.Hour }})
	doomed := inbox.Func("doomed", inbox.On("issue", "comment_added"), func(_ context.Context, d *inbox.Delivery) error {
		if !ours(d.Event) || d.Event.ActorID != zoe.key() {
			return nil
		}
		return inbox.Permanent(fmt.Errorf("550 refused: %s <%s> from %s (%s)", zoe.name, zoe.email, zoe.ip, zoe.ua))
	})

	// The workflow engine: a rule that names Zoe (its name, its condition
	// and its actions' parameters) on every comment. The event its
	// record_event action records copies the rule's name (its actor's
	// label, "Workflow: ...") and the note.
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: issues})
	if err != nil {
		t.Fatal(err)
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	reg.MustRegister("note", workflow.Action{
		Doc:    "Note a comment for someone.",
		Params: workflow.ParamSchema{"for": {Type: workflow.String, Required: true}},
		Run: func(_ context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			return workflow.Result{Summary: "noted for " + ac.Params.String("for")}, nil
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := rules.Create(ctx, "users:"+bob.key(), workflow.Rule{Name: "Comments by " + zoe.name, Domain: "issue", TriggeredOn: "comment_added",
		Conditions: workflow.Conditions{workflow.Cond("actor.label", workflow.OpEq, zoe.name)},
		Actions: []workflow.RuleAction{workflow.Do("note", workflow.Params{"for": zoe.email}),
			workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "flagged", "note": "flagged for " + zoe.name})}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	engineDone := make(chan struct{})
	go func() { defer close(engineDone); _ = engine.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-engineDone })
	waitUntil(t, "the engine to accept comments", func() bool { return engine.Accepts("issue", "comment_added") })

	// A delivery that loads Zoe's second comment and writes its label
	// only after the erasure: the in-app one, held in a middleware.
	var armed atomic.Bool
	h := newHold()
	blockIt := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			if armed.Load() && d.Inbox == "app" && ours(d.Event) && d.Event.ActorID == zoe.key() && d.Event.Action == "comment_added" {
				h.stop()
			}
			return next(ctx, d)
		}
	}
	if err := asynq.NewInspector(redisOpt).PauseQueue("held"); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues, users},
		Inboxes:    []inbox.Inbox{app, mail, slack, engine, held, flaky, doomed},
		Middleware: []inbox.Middleware{blockIt}, DelayedTaskCheckInterval: 100 * time.Millisecond, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.letGo(); w.Shutdown() })

	// Zoe's data goes through every path. The first mail is refused with
	// a reply that names her (a forwarding address): an error text in the
	// deliveries ledger, a suppression's detail, the mail sink's breaker.
	smtpSrv.FailNext(1, smtptest.Failure{Code: 550, Stage: smtptest.StageRcpt, Message: "5.1.1 forwarding to " + zoe.name + " <" + zoe.email + "> refused"})
	rec := func(ctx context.Context, action string, opts ...activity.Option) activity.Event {
		t.Helper()
		res, err := issues.RecordEvent(ctx, testDB, issueID, action, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return res.Event
	}
	first := rec(zoe.ctx(zoe.name), "comment_added", activity.Extra(map[string]any{"author": map[string]any{"name": zoe.name}, "body": "Broken for me, " + zoe.name}))
	rec(bob.ctx(bob.name), "assigned", activity.Record(zoe.ref()))
	rec(activity.WithTags(bob.ctx(bob.name), map[string]string{"reviewer": zoe.email}), "invited", activity.Extra(map[string]any{"email": zoe.email}))
	dup := rec(bob.ctx(bob.name), "comment_added", activity.Extra(map[string]any{"body": "posted twice"}))
	if _, err := issues.Retract(ctx, testDB, activity.Retraction{Events: []int64{dup.ID}, Reason: reason, Action: "comment_retracted", Actor: mod}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the engine's run on Zoe's comment", func() bool {
		r, ok := runOn(t, rules, rule.ID, first)
		return ok && r.Status == workflow.RunDone
	})
	waitUntil(t, "the dead letter of Zoe's comment", func() bool {
		return count(t, `SELECT count(*) FROM inbox_dead_letters WHERE inbox = 'doomed' AND event_id = ?`, first.ID) == 1
	})
	select {
	case <-failed:
	case <-time.After(20 * time.Second):
		t.Fatal("the flaky inbox never ran")
	}
	waitUntil(t, "the flaky job to wait for its retry and the held one to be pending", func() bool {
		r, err1 := insp.GetQueueInfo("flaky")
		h, err2 := insp.GetQueueInfo("held")
		return err1 == nil && err2 == nil && r.Retry == 1 && h.Pending >= 1
	})
	waitUntil(t, "the refused mail to Bob about Zoe's comment", func() bool {
		return count(t, `SELECT count(*) FROM inbox_deliveries WHERE inbox = 'mail' AND status = 'refused'`) >= 1
	})
	waitUntil(t, "the notifications of the event the rule recorded (labelled with its name)", func() bool {
		return count(t, `SELECT count(*) FROM notifications WHERE domain = 'issue' AND action = 'flagged' AND subject_id = ?`, fmt.Sprint(issueID)) >= 1
	})
	waitUntil(t, "the notifications of Zoe's comment", func() bool {
		return count(t, `SELECT count(*) FROM notifications WHERE domain = 'issue' AND event_id = ?`, first.ID) >= 1
	})
	armed.Store(true)
	rec(zoe.ctx(zoe.name), "comment_added", activity.Extra(map[string]any{"body": "and again"}))
	h.waitEntered(t, "the in-app delivery of Zoe's second comment")

	// The seeding reached the database and Redis.
	before := dbHits(t, zoeStrings)
	for _, col := range []string{"issue_events.", "notifications.", "inbox_dead_letters.", "inbox_deliveries.", "inbox_suppressions.",
		"workflow_runs.", "workflow_action_runs.", "workflow_rules."} {
		if !hasPrefix(before, col) {
			t.Errorf("before erasure, no trace of Zoe in %s*; the test does not seed that path (hits: %v)", col, before)
		}
	}

	// The erasure, while the in-app delivery holds the old label.
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	eraseSettledOnRelease(t, ctx, px, zoe.person(), privacy.Request{By: "support:9", Reason: "ticket 44"}, h, nil)

	// Work after the erasure: Bob's comment runs the rule the engine had
	// cached, and is delivered everywhere.
	after := rec(bob.ctx(bob.name), "comment_added", activity.Extra(map[string]any{"body": "fixed now"}))
	waitUntil(t, "the engine's run on Bob's comment after the erasure", func() bool {
		r, ok := runOn(t, rules, rule.ID, after)
		return ok && r.Status == workflow.RunNoMatch
	})
	waitUntil(t, "the deliveries of Bob's comment after the erasure", func() bool {
		return count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, after.ID) == 0 &&
			count(t, `SELECT count(*) FROM notifications WHERE domain = 'issue' AND event_id = ?`, after.ID) >= 1
	})

	// The Redis scan reads what is there: the queues and task IDs name the
	// inboxes.
	if h := redisHits(t, rds.Addr(), []string{"flaky", "held", "doomed"}); len(h) < 3 {
		t.Fatalf("the Redis scan found only %v; it is broken", h)
	}
	var left []string
	left = append(left, dbHits(t, zoeStrings)...)
	left = append(left, redisHits(t, rds.Addr(), zoeStrings)...)
	if len(left) > 0 {
		t.Errorf("after EraseSettled, Zoe's data is still in:\n  %s", strings.Join(left, "\n  "))
	}
	if len(dbHits(t, []string{bob.name, bob.ip})) == 0 {
		t.Error("Bob's data is gone too")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func count(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := testDB.Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func runOn(t *testing.T, rules *workflow.Rules, ruleID int64, ev activity.Event) (workflow.Run, bool) {
	t.Helper()
	ref := ev.Ref()
	runs, err := rules.Runs(context.Background(), workflow.RunQuery{RuleID: ruleID, Event: &ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		return workflow.Run{}, false
	}
	return runs[0], true
}

func hasPrefix(hits []string, prefix string) bool {
	for _, h := range hits {
		if strings.HasPrefix(h, prefix) {
			return true
		}
	}
	return false
}

// dbHits scans every column of every table of the test database (every
// ordinary table and partition of every schema but PostgreSQL's own, as
// pg_catalog lists them, whatever the column's type: its text form, and
// bytea decoded) for each of strs, as a whole word ignoring case, and
// returns "table.column: string" for each hit.
func dbHits(t *testing.T, strs []string) []string {
	t.Helper()
	var cols []struct {
		Schema, Table, Column, Type string
	}
	err := testDB.Raw(`SELECT n.nspname AS schema, c.relname AS "table", a.attname AS "column", format_type(a.atttypid, NULL) AS type
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
ORDER BY 1, 2, 3`).Scan(&cols).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 100 {
		t.Fatalf("only %d columns found; the scan is broken", len(cols))
	}
	pats := make(pgarray.Text, len(strs))
	for i, s := range strs {
		pats[i] = `(?<![[:alnum:]])` + regexp.QuoteMeta(s) + `(?![[:alnum:]])`
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	var out []string
	for _, c := range cols {
		expr := "x." + quote(c.Column) + "::text"
		if c.Type == "bytea" {
			expr = "encode(x." + quote(c.Column) + ", 'escape')"
		}
		var found []int
		q := fmt.Sprintf(`SELECT i FROM unnest(?::text[]) WITH ORDINALITY AS p(re, i) WHERE EXISTS (SELECT 1 FROM %s.%s x WHERE %s ~* p.re)`,
			quote(c.Schema), quote(c.Table), expr)
		if err := testDB.Raw(q, pats).Scan(&found).Error; err != nil {
			t.Fatalf("scan %s.%s: %v", c.Table, c.Column, err)
		}
		for _, i := range found {
			out = append(out, fmt.Sprintf("%s.%s: %q", c.Table, c.Column, strs[i-1]))
		}
	}
	sort.Strings(out)
	return out
}

// redisHits scans every key of database 0 of the Redis at addr, and every
// value of every type (strings, hashes' fields and values, lists, sets,
// sorted sets' members, streams' entries), raw bytes as Redis holds them
// (asynq's task messages are protobuf), for each of strs as a whole word
// ignoring case, and returns "redis key (where): string" for each hit.
func redisHits(t *testing.T, addr string, strs []string) []string {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	var out []string
	check := func(key, where string, b []byte) {
		for _, s := range strs {
			if containsWord(b, s) {
				out = append(out, fmt.Sprintf("redis %s (%s): %q", key, where, s))
			}
		}
	}
	var keys int
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		check(key, "key", []byte(key))
		typ, err := c.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		switch typ {
		case "string":
			v, err := c.Get(ctx, key).Result()
			if err != nil && err != redis.Nil {
				t.Fatal(err)
			}
			vals = []string{v}
		case "hash":
			m, err := c.HGetAll(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			for f, v := range m {
				vals = append(vals, f, v)
			}
		case "list":
			vals, err = c.LRange(ctx, key, 0, -1).Result()
		case "set":
			vals, err = c.SMembers(ctx, key).Result()
		case "zset":
			vals, err = c.ZRange(ctx, key, 0, -1).Result()
		case "stream":
			var msgs []redis.XMessage
			msgs, err = c.XRange(ctx, key, "-", "+").Result()
			for _, m := range msgs {
				for f, v := range m.Values {
					vals = append(vals, f, fmt.Sprint(v))
				}
			}
		case "none": // gone since the scan
		default:
			t.Fatalf("redis key %s has type %s, which the scan does not read", key, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			check(key, typ, []byte(v))
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatal("Redis holds no key at all; the scan is broken")
	}
	sort.Strings(out)
	return out
}

// containsWord reports whether b holds s, ignoring case, with no letter
// or digit right before or after it.
func containsWord(b []byte, s string) bool {
	lb, ls := bytes.ToLower(b), bytes.ToLower([]byte(s))
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; ; {
		j := bytes.Index(lb[i:], ls)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(ls)
		if (at == 0 || !alnum(lb[at-1])) && (end == len(lb) || !alnum(lb[end])) {
			return true
		}
		i = at + 1
	}
}
