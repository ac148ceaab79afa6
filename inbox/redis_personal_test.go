package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The distinctive strings of TestRedisHoldsNothingPersonal: each names a
// person (or what they wrote) and must never reach Redis.
const (
	zqLabel   = "Zqlabel Anastasia"
	zqIP      = "198.51.100.173"
	zqAgent   = "ZqAgent/7.3 (zq-ua-probe)"
	zqExtra   = "zqextra-confidential"
	zqRecord  = "zqrecord-title"
	zqName    = "Zqname Recipient"
	zqMailOK  = "zq-ok@zq-mail.example"
	zqMailBad = "zq-busy@zq-mail.example"
	zqMailNo  = "zq-gone@zq-mail.example"
)

// Redis holds nothing an erasure must reach: the real worker runs events
// whose actor label, IP, user agent, record label and extra hold
// distinctive strings, to email inboxes whose recipients' addresses are
// distinctive too (one address accepted, one answered 451 "mailbox busy",
// one 550) and to an inbox whose errors echo all of them (and one that
// panics with them, and one that fails as a sink that is down, which the
// worker's status in Redis reports), with an app task (Config.Tasks) whose
// error echoes them too, until Redis holds jobs completed, pending (an
// inbox no worker serves), retrying and archived (dead letters). Then every key
// and every value of the test's own Redis server, of every type, holds none
// of the strings, while the dead letters in PostgreSQL keep the full
// errors.
func TestRedisHoldsNothingPersonal(t *testing.T) {
	reset(t)
	ctx := context.Background()
	t.Cleanup(func() { testDB.Exec(`TRUNCATE inbox_suppressions`) })
	priv := redistest.NewPrivate(t)
	opt := asynq.RedisClientOpt{Addr: priv.Addr()}

	srv := smtptest.Start(t, smtptest.Config{})
	srv.FailRecipient(zqMailBad, -1, smtptest.Failure{Code: 451, Message: "4.2.1 <" + zqMailBad + "> mailbox busy, " + zqName})
	srv.FailRecipient(zqMailNo, -1, smtptest.Failure{Code: 550, Message: "5.1.1 <" + zqMailNo + "> unknown user " + zqName})
	recipientOf := map[string]string{"ok": zqMailOK, "busy": zqMailBad, "gone": zqMailNo, "panic": zqMailOK, "down": zqMailOK}
	recipients := func(_ context.Context, _ *gorm.DB, ev activity.Event) ([]email.Recipient, error) {
		k := kindOf(ev)
		return []email.Recipient{{ID: "r-" + k, Name: zqName, Email: recipientOf[k]}}, nil
	}
	tpls := email.NewTemplates(email.TemplatesConfig{})
	if err := tpls.Register("issue", email.AnyAction, email.DefaultTemplate()); err != nil {
		t.Fatal(err)
	}
	builder, err := email.NewBuilder(email.BuilderConfig{From: "Tidings <notify@example.com>", Templates: tpls})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	newMail := func(name string, p inbox.Policy) inbox.Inbox {
		in, err := email.NewInbox(email.InboxConfig{Name: name, Builder: builder, Transport: sender, Recipients: recipients, Policy: p, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	// mail retries the busy address (after GreylistWait, 5 minutes: the
	// job stays in the retry set); mail-once makes its first failure final.
	mail := newMail("mail", inbox.Policy{})
	mailOnce := newMail("mail-once", inbox.Policy{MaxRetry: inbox.NoRetry})
	// hook fails as a webhook whose response echoes the person: busy is
	// retried (in an hour), gone is permanent, panic panics, down is a
	// transport failure (its circuit breaker, whose state the worker
	// publishes to Redis, counts it).
	hook := inbox.WithPolicy(sinkInbox{inbox.Func("hook", inbox.Everything, func(_ context.Context, d *inbox.Delivery) error {
		echo := fmt.Sprintf("POST https://hooks.example/in: 422: {\"error\":\"refused %s <%s> from %s (%s): %s\"}",
			d.Event.ActorLabel, recipientOf[kindOf(d.Event)], deref(d.Event.IP), deref(d.Event.UserAgent), d.Event.Extra)
		switch kindOf(d.Event) {
		case "busy":
			return errors.New(echo)
		case "gone":
			return inbox.Permanent(errors.New(echo))
		case "panic":
			panic(echo)
		case "down":
			return inbox.Unreachable("https://hooks.example", errors.New(echo))
		}
		return nil
	})}, inbox.Policy{MaxRetry: 3, Backoff: func(int) time.Duration { return time.Hour }})
	// parked's queue has no worker: its jobs stay pending.
	parked := inbox.WithPolicy(newCollector("parked", inbox.Everything), inbox.Policy{Queue: "parked"})

	relay, err := inbox.NewRelay(inbox.RelayConfig{DB: testDB, Redis: opt, Inboxes: []inbox.Inbox{mail, mailOnce, hook, parked},
		Domains: []*activity.Domain{issues}, DisableListen: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	w := startWorker(t, inbox.Config{Redis: opt, Inboxes: []inbox.Inbox{mail, mailOnce, hook}, DisableRelay: true,
		StatusInterval: 20 * time.Millisecond, Tasks: map[string]asynq.Handler{"zq:echo": echoTask}})

	_, issueID := newIssue(t)
	rctx := activity.WithMetadata(ctx, activity.Metadata{RequestID: "r-zq", IP: zqIP, UserAgent: zqAgent, Source: "web"})
	events := map[string]activity.Event{}
	for _, k := range []string{"ok", "busy", "gone", "panic", "down"} {
		res, err := issues.RecordEvent(rctx, testDB, issueID, "comment_added",
			activity.Actor(activity.Ref{Type: "users", ID: "7", Label: zqLabel}),
			activity.Record(activity.Ref{Type: "comments", ID: "9", Label: zqRecord}),
			activity.Extra(map[string]any{"kind": k, "note": zqExtra}))
		if err != nil {
			t.Fatal(err)
		}
		events[k] = res.Event
	}
	if _, err := relay.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// A task of the app's (Config.Tasks) whose error echoes the person too.
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("zq:echo", []byte(events["ok"].Ref().String())), asynq.TaskID("zq-echo"), asynq.Queue(inbox.DefaultQueue), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		inbox, queue, kind string
		state              asynq.TaskState
	}{
		{"mail", email.DefaultQueue, "ok", asynq.TaskStateCompleted},
		{"mail", email.DefaultQueue, "busy", asynq.TaskStateRetry},
		{"mail", email.DefaultQueue, "gone", asynq.TaskStateCompleted}, // refused for good: done
		{"mail-once", email.DefaultQueue, "busy", asynq.TaskStateArchived},
		{"mail-once", email.DefaultQueue, "ok", asynq.TaskStateCompleted},
		{"hook", inbox.DefaultQueue, "ok", asynq.TaskStateCompleted},
		{"hook", inbox.DefaultQueue, "busy", asynq.TaskStateRetry},
		{"hook", inbox.DefaultQueue, "gone", asynq.TaskStateArchived},
		{"hook", inbox.DefaultQueue, "panic", asynq.TaskStateRetry},
		{"hook", inbox.DefaultQueue, "down", asynq.TaskStateRetry},
		{"parked", "parked", "ok", asynq.TaskStatePending},
		{"parked", "parked", "busy", asynq.TaskStatePending},
	}

	insp := asynq.NewInspector(opt)
	defer insp.Close()
	waitFor(t, 20*time.Second, "the app's task to be archived", func() bool {
		info, err := insp.GetTaskInfo(inbox.DefaultQueue, "zq-echo")
		return err == nil && info.State == asynq.TaskStateArchived
	})
	for _, x := range want {
		id := inbox.TaskID(x.inbox, events[x.kind].Ref())
		waitFor(t, 20*time.Second, fmt.Sprintf("job %s to be %v", id, x.state), func() bool {
			info, err := insp.GetTaskInfo(x.queue, id)
			return err == nil && info.State == x.state
		})
	}
	// The archived and retrying jobs' errors, as asynq keeps them, name
	// the delivery and the kind of failure.
	info, err := insp.GetTaskInfo(email.DefaultQueue, inbox.TaskID("mail-once", events["busy"].Ref()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.LastErr, "mail-once") || !strings.Contains(info.LastErr, events["busy"].Ref().String()) || !strings.Contains(info.LastErr, "*email.SendError") {
		t.Errorf("asynq's last error of the dead mail job: %q; want the inbox, the event and the error's type", info.LastErr)
	}
	// PostgreSQL keeps the full errors.
	letters, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{})
	if err != nil {
		t.Fatal(err)
	}
	full := map[string]string{}
	for _, l := range letters.Letters {
		full[l.Inbox] = l.LastError
	}
	if !strings.Contains(full["mail-once"], zqMailBad) || !strings.Contains(full["hook"], zqLabel) || len(full) != 2 {
		t.Errorf("dead letters' errors %q; want the full texts of mail-once's and hook's", full)
	}

	// The worker's status in Redis shows the hook's breaker after its
	// failure.
	rdb := goredis.NewClient(&goredis.Options{Addr: priv.Addr()})
	defer rdb.Close()
	waitFor(t, 10*time.Second, "the worker's status to show the hook's breaker", func() bool {
		ws, err := inbox.ReadWorkerStatus(ctx, rdb, "", time.Now())
		if err != nil || len(ws) != 1 {
			return false
		}
		for _, b := range ws[0].Breakers {
			if b.Sink == "https://hooks.example" && b.LastError != "" {
				return true
			}
		}
		return false
	})

	hits := scanRedis(t, priv.Addr(), zqLabel, zqIP, zqAgent, zqExtra, zqRecord, zqName, zqMailOK, zqMailBad, zqMailNo)
	for i, h := range hits {
		if i == 20 {
			t.Errorf("... and %d more", len(hits)-i)
			break
		}
		t.Errorf("Redis holds %q: %s", h.needle, h.where)
	}
	if len(hits) == 0 {
		t.Logf("no personal string in %d keys of Redis", countKeys(t, priv.Addr()))
	}
}

// echoTask is an app's task failing with an error that names the person.
var echoTask = asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
	return fmt.Errorf("sync %s <%s> from %s: refused", zqLabel, zqMailOK, zqIP)
})

// sinkInbox names its sink, so the worker keeps a circuit breaker for it.
type sinkInbox struct{ inbox.Inbox }

func (sinkInbox) Sink() string { return "https://hooks.example" }

// kindOf reads the test's "kind" from an event's extra.
func kindOf(ev activity.Event) string {
	var x struct{ Kind string }
	_ = json.Unmarshal(ev.Extra, &x)
	return x.Kind
}

type redisHit struct{ needle, where string }

// scanRedis reads every key of every database of the Redis server at addr,
// and every value, whatever its type, and returns where each needle
// occurs (compared without case).
func scanRedis(t *testing.T, addr string, needles ...string) []redisHit {
	t.Helper()
	ctx := context.Background()
	var hits []redisHit
	check := func(where, s string) {
		low := strings.ToLower(s)
		for _, n := range needles {
			if i := strings.Index(low, strings.ToLower(n)); i >= 0 {
				hits = append(hits, redisHit{n, fmt.Sprintf("%s: …%q…", where, s[max(0, i-60):min(len(s), i+len(n)+60)])})
			}
		}
	}
	for db := range 16 {
		c := goredis.NewClient(&goredis.Options{Addr: addr, DB: db})
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			where := fmt.Sprintf("db %d key %q", db, key)
			check(where+" (its name)", key)
			typ, err := c.Type(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			var vals []string
			switch typ {
			case "string":
				v, err := c.Get(ctx, key).Result()
				if err != nil && !errors.Is(err, goredis.Nil) {
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
				if vals, err = c.LRange(ctx, key, 0, -1).Result(); err != nil {
					t.Fatal(err)
				}
			case "set":
				if vals, err = c.SMembers(ctx, key).Result(); err != nil {
					t.Fatal(err)
				}
			case "zset":
				if vals, err = c.ZRange(ctx, key, 0, -1).Result(); err != nil {
					t.Fatal(err)
				}
			case "stream":
				msgs, err := c.XRange(ctx, key, "-", "+").Result()
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					for f, v := range m.Values {
						vals = append(vals, f, fmt.Sprint(v))
					}
				}
			case "none": // gone meanwhile
			default:
				t.Fatalf("%s has type %s, which the scan does not read", where, typ)
			}
			for _, v := range vals {
				check(where, v)
			}
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	return hits
}

// countKeys counts the keys of every database of the Redis server at addr.
func countKeys(t *testing.T, addr string) int64 {
	t.Helper()
	var n int64
	for db := range 16 {
		c := goredis.NewClient(&goredis.Options{Addr: addr, DB: db})
		k, err := c.DBSize(context.Background()).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	return n
}
