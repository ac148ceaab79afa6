package privacy_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/workflow"
)

// pushKey and pushAuth are a browser's push subscription keys (a P-256
// public key and an auth secret, base64url).
const (
	pushKey  = "BDYvPKqWBUSceXbkOtThGc042xkFiedZEDbludiT8OORJNRjx2PliAljf6nWdqA3tUyycfUXsdpL1eJ3lA41Ch8"
	pushAuth = "Ef-NcZDa2prjUSvIb2nzzA"
)

// someone is a person of the test app, with every personal string the
// library could come to hold of them.
type someone struct {
	id                         int64
	name, email, ip, ua, slack string
}

func (s someone) key() string { return strconv.FormatInt(s.id, 10) }

func (s someone) ref() activity.Ref {
	return activity.Ref{Type: "users", ID: s.key(), Label: s.name}
}

func (s someone) recipient() email.Recipient {
	return email.Recipient{ID: s.key(), Name: s.name, Email: s.email}
}

func (s someone) strings() []string { return []string{s.name, s.email, s.ip, s.ua, s.slack} }

func (s someone) person() activity.Person {
	return activity.Person{Type: "users", ID: s.key()}.WithValues(s.name, s.email, s.slack)
}

// ctx returns a context of a request by s: actor, IP and user agent.
func (s someone) ctx(label string) context.Context {
	ctx := activity.WithActor(context.Background(), activity.Ref{Type: "users", ID: s.key(), Label: label})
	return activity.WithMetadata(ctx, activity.Metadata{IP: s.ip, UserAgent: s.ua, Source: "web"})
}

func newUser(t *testing.T, s someone) someone {
	t.Helper()
	if err := testDB.Raw(`INSERT INTO users (name, email) VALUES (?, ?) RETURNING id`, s.name, s.email).Scan(&s.id).Error; err != nil {
		t.Fatal(err)
	}
	return s
}

// The done-when test of erasure: a person's name, email, IP address, user
// agent and Slack ID reach every place the library copies them (recording,
// in-app notifications, an email digest, an escalation, a refused mail and
// its suppression, Slack thread bookkeeping, the workflow run log); after
// Erase, no text, varchar, jsonb, inet or array column of any table of the
// database holds any of them, another person's data is intact, and the
// events are all still there.
func TestEraseLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Erasmus", email: "ana.erasmus@example.org", ip: "203.0.113.77", ua: "AnaBrowser/9.1 (erasure test)", slack: "U0ANAERAS1"})
	bob := newUser(t, someone{name: "Bob Keeper", email: "bob.keeper@example.org", ip: "198.51.100.5", ua: "BobBrowser/1.0 (kept)", slack: "U0BOBKEEP1"})
	// Hana's name and address contain Ana's: matching is by whole words,
	// so none of Hana's data may go.
	hana := newUser(t, someone{name: "Hana Erasmus", email: "hana.erasmus@example.org", ip: "198.51.100.6", ua: "HanaBrowser/2.0"})
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Login fails') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}

	// 1. Recording: Ana's own events (one labelled by her email, as labels
	// fall back to it), events naming her as a record, in personal paths
	// and tags of Bob's events, and as the subject of the user domain.
	var evs []activity.Event
	record := func(ctx context.Context, d *activity.Domain, subject int64, action string, opts ...activity.Option) {
		t.Helper()
		res, err := d.RecordEvent(ctx, testDB, subject, action, opts...)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, res.Event)
	}
	record(ana.ctx(ana.name), issues, issueID, "comment_added",
		activity.Extra(map[string]any{"email": ana.email, "author": map[string]any{"name": ana.name}, "body": "It fails for me, " + ana.name}))
	record(ana.ctx(ana.email), issues, issueID, "comment_added", activity.Extra(map[string]any{"body": "again"}))
	record(bob.ctx(bob.name), issues, issueID, "assigned", activity.Record(ana.ref()))
	record(activity.WithTags(bob.ctx(bob.name), map[string]string{"reviewer": ana.email}), issues, issueID, "invited",
		activity.Extra(map[string]any{"email": ana.email, "body": "kept"}))
	record(bob.ctx(bob.name), users, ana.id, "profile_viewed", activity.Extra(map[string]any{"viewer_email": bob.email}))
	record(ana.ctx(ana.name), users, ana.id, "signed_in")
	record(bob.ctx(bob.name), issues, issueID, "comment_added", activity.Extra(map[string]any{"email": bob.email, "body": "on it"}))
	record(hana.ctx(hana.name), issues, issueID, "comment_added", activity.Extra(map[string]any{"email": hana.email, "body": "me too, " + hana.name}))
	if err := inbox.Suppress(ctx, testDB, inbox.Suppression{Channel: inbox.ChannelEmail, Address: hana.email, Reason: inbox.ReasonHardBounce, Detail: "550 <" + hana.email + ">"}); err != nil {
		t.Fatal(err)
	}

	// 2. In-app notifications: everyone hears of everything (but their own acts).
	both := func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
		return []string{ana.key(), bob.key()}, nil
	}
	app, err := notify.New(notify.Config{Name: "app", Recipients: both, RecipientType: "users"})
	if err != nil {
		t.Fatal(err)
	}
	// 3. Email: an hourly digest, an escalation, and a plain mail that
	// the server refuses for Ana (550: a suppression, a refused delivery).
	srv := smtptest.Start(t, smtptest.Config{})
	sender, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tpls := email.NewTemplates(email.TemplatesConfig{})
	for _, d := range []string{"issue", "user"} {
		if err := tpls.Register(d, email.AnyAction, email.DefaultTemplate()); err != nil {
			t.Fatal(err)
		}
	}
	builder, err := email.NewBuilder(email.BuilderConfig{From: "Tracker <notify@example.com>", Templates: tpls,
		SubjectURL: func(ev activity.Event) string { return "https://tracker.example.com/" + ev.Domain + "/" + ev.SubjectID }})
	if err != nil {
		t.Fatal(err)
	}
	mailTo := func(rs ...someone) email.RecipientsFunc {
		return func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) {
			var out []email.Recipient
			for _, r := range rs {
				out = append(out, r.recipient())
			}
			return out, nil
		}
	}
	newMail := func(cfg email.InboxConfig) *email.Inbox {
		t.Helper()
		cfg.Builder, cfg.Transport, cfg.DB, cfg.RecipientType = builder, sender, testDB, "users"
		in, err := email.NewInbox(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	digest := newMail(email.InboxConfig{Name: "digest", Recipients: mailTo(ana, bob), Digest: &email.DigestConfig{Period: email.Hourly}})
	escalate := newMail(email.InboxConfig{Name: "escalate", Recipients: mailTo(ana, bob), Escalation: &email.EscalationConfig{Delay: time.Hour}})
	plain := newMail(email.InboxConfig{Name: "plain", Recipients: mailTo(ana)})

	// 4. Slack: events about Ana go to her as a direct message.
	router, err := slackinbox.NewRouter(slackinbox.RouterConfig{Default: "#activity",
		Rules: []slackinbox.Rule{{Domain: "user", SubjectID: ana.key(), Channel: ana.slack}}})
	if err != nil {
		t.Fatal(err)
	}
	slackSrv := slacktest.Start(t, slacktest.Config{})
	poster, err := slackinbox.NewPoster(slackinbox.Config{Token: "xoxb-test", APIURL: slackSrv.APIURL(), Router: router, Threads: slackinbox.NewGormThreads(testDB)})
	if err != nil {
		t.Fatal(err)
	}
	slack, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: "slack", Publisher: poster})
	if err != nil {
		t.Fatal(err)
	}

	// 6. Batching (package inbox/batch): Bob and Ana chose batched
	// delivery, so Ana's data also sits in open windows: her own email
	// window (its profile names her), Bob's email window and Slack's
	// windows (the snapshots of her events; the window of events about
	// her goes to her Slack ID), and Dora's collapsed in-app rows list her
	// among their actors.
	// Dora reads in-app notifications in another inbox (a notification
	// is one per recipient and event, whatever the inbox).
	dora := newUser(t, someone{name: "Dora Reader", email: "dora.reader@example.org"})
	defaults := &inbox.Defaults{}
	for _, c := range []struct {
		who     someone
		channel string
		choice  inbox.Choice
	}{
		{bob, inbox.ChannelEmail, inbox.BatchedOn(inbox.EveryHour())},
		{ana, inbox.ChannelEmail, inbox.BatchedOn(inbox.DailyAt(8, 0))},
		{dora, inbox.ChannelApp, inbox.BatchedOn(inbox.EveryHour())},
	} {
		for _, d := range []string{"issue", "user"} {
			if err := defaults.SetChoice(ctx, testDB, c.who.key(), c.channel, d, inbox.AnyAction, c.choice); err != nil {
				t.Fatal(err)
			}
		}
	}
	batched := newMail(email.InboxConfig{Name: "batched", Recipients: mailTo(ana, bob), Defaults: defaults, Batching: &email.BatchingConfig{}})
	collapsed, err := notify.New(notify.Config{Name: "app-collapsed", RecipientType: "users", Defaults: defaults, Batching: true,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{dora.key()}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	slackBatched, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: "slack-batched", Publisher: poster,
		Batching: &slackinbox.BatchingConfig{DB: testDB, Schedule: inbox.EveryHour()}})
	if err != nil {
		t.Fatal(err)
	}

	// 5. The workflow engine: a rule about Ana's comments, whose run log
	// explains the match with her name and whose action's result names
	// her address.
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: issues})
	if err != nil {
		t.Fatal(err)
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	reg.MustRegister("note", workflow.Action{
		Doc: "Note who commented.",
		Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			return workflow.Result{Summary: "noted a comment by " + ana.email}, nil
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Create(ctx, "users:"+bob.key(), workflow.Rule{Name: "Ana's comments", Domain: "issue", TriggeredOn: "comment_added",
		Conditions: workflow.Conditions{workflow.Cond("actor.label", workflow.OpEq, ana.name)},
		Actions:    []workflow.RuleAction{workflow.Do("note", workflow.Params{})}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}

	if err := engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(1, smtptest.Failure{Code: 550, Stage: smtptest.StageRcpt, Message: "5.1.1 <" + ana.email + ">: no such user"})
	for _, ev := range evs {
		for _, in := range []inbox.Inbox{app, digest, escalate, plain, slack, engine, batched, collapsed, slackBatched} {
			if !in.Accepts(ev.Domain, ev.Action) {
				continue
			}
			if err := inboxtest.Process(t, testDB, in, ev); err != nil && !inbox.IsPermanent(err) {
				t.Fatalf("%s on %s %s: %v", in.Name(), ev.Domain, ev.Action, err)
			}
		}
	}
	if err := inbox.Mute(ctx, testDB, ana.key(), inbox.ChannelEmail, "issue", "assigned"); err != nil {
		t.Fatal(err)
	}
	// 6. Her addresses outside the app: a browser's push subscription
	// labelled with her user agent, and her phone number, which Bob
	// registered too (a shared phone) under a label naming her: his stays
	// (the app did not name the number among her values), its label masked.
	anaPhone := "+4930555" + ana.key()[:min(len(ana.key()), 4)]
	for _, a := range []device.Address{
		{Recipient: ana.key(), Kind: device.WebPush, Address: "https://push.example/ana", P256dh: pushKey, Auth: pushAuth, Label: ana.ua},
		{Recipient: ana.key(), Kind: device.Phone, Address: anaPhone},
		{Recipient: bob.key(), Kind: device.Phone, Address: anaPhone, Label: ana.name + "'s phone"},
		{Recipient: bob.key(), Kind: device.WebPush, Address: "https://push.example/bob", P256dh: pushKey, Auth: pushAuth, Label: bob.ua},
	} {
		if _, err := device.Register(ctx, testDB, a); err != nil {
			t.Fatal(err)
		}
	}

	// Every path holds Ana's data before: the seeding reached them all.
	before := hits(t, ana.strings())
	for _, col := range []string{"issue_events.", "user_events.", "notifications.", "email_escalations.", "inbox_suppressions.",
		"inbox_deliveries.", "slack_threads.", "workflow_runs.", "workflow_action_runs.", "users.",
		"batch_items.event", "batch_windows.profile", "batch_windows.recipient", "notifications.actors", "device_addresses.label"} {
		if !slices.ContainsFunc(before, func(h string) bool { return strings.HasPrefix(h, col) }) {
			t.Errorf("before erasure, no trace of Ana in %s; the test does not seed that path (hits: %v)", col, before)
		}
	}
	var openWindows int64
	if err := testDB.Raw(`SELECT count(*) FROM batch_windows WHERE inbox IN ('batched', 'slack-batched') AND status = 'open'`).Scan(&openWindows).Error; err != nil || openWindows == 0 {
		t.Errorf("no open batch window of the batched inboxes (%v); the test does not seed that path", err)
	}
	counts := eventCounts(t)

	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := px.Erase(ctx, testDB, ana.person(), privacy.Request{By: "support:42", Reason: "request #7"})
	if err != nil {
		t.Fatal(err)
	}

	if after := hits(t, ana.strings()); len(after) > 0 {
		t.Errorf("after erasure, Ana's data is still in:\n  %s", strings.Join(after, "\n  "))
	}
	if got := eventCounts(t); got != counts {
		t.Errorf("event counts %v after erasure, want %v (events are kept)", got, counts)
	}
	for _, s := range []string{bob.name, bob.ip, bob.ua} {
		if len(hits(t, []string{s})) == 0 {
			t.Errorf("Bob's %q is gone too; erasure must touch only Ana's data", s)
		}
	}
	var phones []string
	if err := testDB.Raw(`SELECT recipient || ' ' || address FROM device_addresses ORDER BY 1`).Scan(&phones).Error; err != nil {
		t.Fatal(err)
	}
	if want := []string{bob.key() + " " + anaPhone, bob.key() + " https://push.example/bob"}; !slices.Equal(phones, want) {
		t.Errorf("addresses after erasure = %q, want Bob's two only (Ana's deleted)", phones)
	}
	for _, want := range []string{`issue_events.actor_label: "Hana Erasmus"`, `issue_events.extra: "Hana Erasmus"`, `issue_events.extra: "hana.erasmus@example.org"`,
		`inbox_suppressions.address: "hana.erasmus@example.org"`, `inbox_suppressions.detail: "hana.erasmus@example.org"`,
		`notifications.actors: "Hana Erasmus"`, `batch_items.event: "Hana Erasmus"`} {
		if h := hits(t, []string{hana.name, hana.email}); !slices.ContainsFunc(h, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("Hana's data lost: no %s among %v", want, h)
		}
	}
	// The record names Ana by key only, and counts what changed.
	got, err := privacy.Erasures(ctx, testDB, ana.ref())
	if err != nil || len(got) != 1 || got[0].ID != rec.ID || got[0].RequestedBy != "support:42" {
		t.Fatalf("erasure records %+v, %v; want the one of %d", got, err, rec.ID)
	}
	if got[0].Counts["issue_events"] != 4 || got[0].Counts["user_events"] != 2 || got[0].Counts["notifications"] == 0 {
		t.Errorf("counts %v; want 4 issue events masked and some notifications", got[0].Counts)
	}
	// The feed still renders, with Ana as an erased person.
	page, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: issueID})
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, e := range page.Events() {
		labels = append(labels, e.ActorLabel)
	}
	if !slices.Contains(labels, activity.ErasedLabel) || !slices.Contains(labels, bob.name) {
		t.Errorf("feed actor labels %v; want %q and Bob's", labels, activity.ErasedLabel)
	}
}

// usersPart is the app's own table: it masks the user row (a real app
// might delete it).
var usersPart = privacy.Part{
	Name: "users",
	Erase: func(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
		res := db.WithContext(ctx).Exec(`UPDATE users SET name = ?, email = NULL WHERE id = ?`, activity.ErasedLabel, p.ID)
		return activity.Erased{"users": res.RowsAffected}, res.Error
	},
	Export: func(ctx context.Context, db *gorm.DB, p activity.Person, emit func(any) error) error {
		var row struct {
			Name  string  `json:"name"`
			Email *string `json:"email"`
		}
		if err := db.WithContext(ctx).Raw(`SELECT name, email FROM users WHERE id = ?`, p.ID).Scan(&row).Error; err != nil {
			return err
		}
		return emit(row)
	},
}

// hits scans every text-like column (text, varchar, char, json, jsonb,
// inet, arrays, enums) of every table of the test database for each of
// strs, as a whole word, ignoring case, and returns "table.column: string" for each hit.
// It lists the columns from information_schema, so tables added later are
// covered without changing the test.
func hits(t *testing.T, strs []string) []string {
	t.Helper()
	var cols []struct{ TableName, ColumnName string }
	err := testDB.Raw(`SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
  AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'ARRAY', 'USER-DEFINED')
ORDER BY 1, 2`).Scan(&cols).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 20 {
		t.Fatalf("only %d columns found; the scan is broken", len(cols))
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	var out []string
	for _, c := range cols {
		for _, s := range strs {
			var n int64
			// A whole word, ignoring case: Ana's address inside Hana's
			// ("hana.erasmus@...") is Hana's.
			q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s::text ~* ?`, quote(c.TableName), quote(c.ColumnName))
			if err := testDB.Raw(q, `(?<![[:alnum:]])`+regexp.QuoteMeta(s)+`(?![[:alnum:]])`).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				out = append(out, fmt.Sprintf("%s.%s: %q (%d rows)", c.TableName, c.ColumnName, s, n))
			}
		}
	}
	sort.Strings(out)
	return out
}

func eventCounts(t *testing.T) [2]int64 {
	t.Helper()
	var c [2]int64
	for i, table := range []string{"issue_events", "user_events"} {
		if err := testDB.Raw(`SELECT count(*) FROM ` + table).Scan(&c[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// After a restore brings a person's data back, Reapply erases it again
// from the erasure records alone.
func TestReapplyAfterRestore(t *testing.T) {
	ctx := context.Background()
	eve := newUser(t, someone{name: "Eve Restored", email: "eve.restored@example.org", ip: "198.51.100.77", ua: "EveBrowser/4 (restore)"})
	var issueID int64
	testDB.Raw(`INSERT INTO issues (title) VALUES ('Restore') RETURNING id`).Scan(&issueID)
	res, err := issues.RecordEvent(eve.ctx(eve.name), testDB, issueID, "comment_added")
	if err != nil {
		t.Fatal(err)
	}
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := px.Erase(ctx, testDB, eve.person(), privacy.Request{By: "test"}); err != nil {
		t.Fatal(err)
	}
	// The "restore": the event's row as it was before.
	if err := testDB.Exec(`UPDATE issue_events SET actor_label = ?, ip = ?, user_agent = ? WHERE id = ?`, eve.name, eve.ip, eve.ua, res.Event.ID).Error; err != nil {
		t.Fatal(err)
	}
	if len(hits(t, []string{eve.name, eve.ip, eve.ua})) == 0 {
		t.Fatal("the restore did not bring Eve back")
	}
	n, err := px.Reapply(ctx, testDB, "ops:restore")
	if err != nil || n == 0 {
		t.Fatalf("Reapply: %d, %v", n, err)
	}
	if h := hits(t, []string{eve.name, eve.ip, eve.ua}); len(h) > 0 {
		t.Fatalf("after Reapply, Eve is still in %v", h)
	}
}
