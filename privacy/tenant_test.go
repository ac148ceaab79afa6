package privacy_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
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
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/scratchdb"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/workflow"
)

// The tenanted app of these tests: tickets of organisations (the tenant,
// a text key), and events about members (subject: the user). Both tenants
// have tickets 1 and 2 and users 8 and 9: "users:9" of acme and of globex
// are two different people, with the same key.
var (
	tenantTickets = activity.MustDomain(activity.DomainConfig{
		Name:          "ticket",
		Subject:       activity.Subject{Table: "tickets"},
		Tenant:        activity.KeyText,
		Actions:       []string{"commented", "assigned", "invited"},
		PersonalPaths: []string{"email"},
	})
	tenantMembers = activity.MustDomain(activity.DomainConfig{
		Name:    "member",
		Subject: activity.Subject{Table: "users"},
		Tenant:  activity.KeyText,
		Actions: []string{"viewed"},
	})
)

// member is a person of one tenant, with every personal string the
// library could come to hold of them.
type member struct {
	tenant, id                 string
	name, email, ip, ua, slack string
}

func (m member) ref() activity.Ref { return activity.Ref{Type: "users", ID: m.id, Label: m.name} }

func (m member) person() activity.Person {
	return activity.Person{Type: "users", ID: m.id}.WithValues(m.name, m.email, m.slack)
}

func (m member) strings() []string { return []string{m.name, m.email, m.ip, m.ua, m.slack} }

// ctx is a request of m: tenant, actor, IP and user agent.
func (m member) ctx() context.Context {
	ctx := activity.WithTenant(context.Background(), m.tenant)
	ctx = activity.WithActor(ctx, m.ref())
	return activity.WithMetadata(ctx, activity.Metadata{IP: m.ip, UserAgent: m.ua, Source: "web"})
}

// The people: in each tenant, user 9 (the one erased and exported) and
// user 8, their neighbour.
var (
	ana = member{tenant: "acme", id: "9", name: "Ana Acmeperson", email: "ana.acme@acme.test", ip: "192.0.2.91", ua: "AnaAcmeAgent/9.1", slack: "U0ANAACME9"}
	ben = member{tenant: "acme", id: "8", name: "Ben Acmeneighbour", email: "ben.acme@acme.test", ip: "192.0.2.81", ua: "BenAcmeAgent/8.1", slack: "U0BENACME8"}
	gus = member{tenant: "globex", id: "9", name: "Gus Globexperson", email: "gus.globex@globex.test", ip: "198.51.100.91", ua: "GusGlobexAgent/9.2", slack: "U0GUSGLOB9"}
	gia = member{tenant: "globex", id: "8", name: "Gia Globexneighbour", email: "gia.globex@globex.test", ip: "198.51.100.81", ua: "GiaGlobexAgent/8.2", slack: "U0GIAGLOB8"}
)

// tenantDB gives each test a new copy of the tenanted app's database
// (tenantTemplate), in which both tenants are seeded the same way, each
// through every path the library copies a person's data along: events as
// actor, record, subject and in personal paths; in-app notifications,
// plain and collapsed; an email digest and an escalation; Slack thread
// bookkeeping; a workflow rule named after user 9, with its run log and
// action results; preferences and delivery choices.
func tenantDB(t *testing.T) *gorm.DB {
	t.Helper()
	copyDatabase(t, tenantTemplate(t), pgtest.Name("tidings_test_privacy_tenants"))
	db, err := pgtest.Open("tidings_test_privacy_tenants")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

// tenants is the database tenantDB copies, made and seeded by the first
// test that asks for it (closed then: a template is copied only with no
// one connected). Seeding took most of each tenant test; a copy takes
// about half a second.
var tenants struct {
	sync.Mutex
	template string
}

// tenantTemplate returns the name of the seeded template, making it on
// the first call (a call that fails the test leaves it to the next).
func tenantTemplate(t *testing.T) string {
	t.Helper()
	tenants.Lock()
	defer tenants.Unlock()
	if tenants.template != "" {
		return tenants.template
	}
	ctx := context.Background()
	upT, _ := activity.MigrationSQL(tenantTickets)
	upM, _ := activity.MigrationSQL(tenantMembers)
	db, err := pgtest.Create(ctx, "tidings_test_privacy_tenants_template",
		`CREATE TABLE users (id bigint PRIMARY KEY); INSERT INTO users VALUES (8), (9);
CREATE TABLE tickets (id bigserial PRIMARY KEY); INSERT INTO tickets DEFAULT VALUES; INSERT INTO tickets DEFAULT VALUES;`, upT, upM)
	if err != nil {
		t.Fatal("privacy tests need PostgreSQL:", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	for _, people := range [][2]member{{ana, ben}, {gus, gia}} {
		seedTenant(t, db, people[0], people[1])
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}
	tenants.template = pgtest.Name("tidings_test_privacy_tenants_template")
	return tenants.template
}

// copyDatabase makes database name a copy of template, marked as a
// scratch database (scratchdb: an earlier run's copy is dropped, any
// other database of that name is left alone and fails the test).
func copyDatabase(t *testing.T, template, name string) {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", pgtest.BaseDSN()+" dbname=postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := scratchdb.Recreate(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP DATABASE " + name, "CREATE DATABASE " + name + " TEMPLATE " + template, "COMMENT ON DATABASE " + name + " IS '" + scratchdb.Marker + "'"} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// householdPhone is the phone number users 9 and 8 of each tenant share.
const householdPhone = "+4930555008"

// seedTenant seeds one tenant: p9 is user 9, p8 user 8.
func seedTenant(t *testing.T, db *gorm.DB, p9, p8 member) {
	t.Helper()
	tctx := activity.WithTenant(context.Background(), p9.tenant)
	var evs []activity.Event
	record := func(ctx context.Context, d *activity.Domain, subject int64, action string, opts ...activity.Option) {
		t.Helper()
		res, err := d.RecordEvent(ctx, db, subject, action, opts...)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, res.Event)
	}
	record(p9.ctx(), tenantTickets, 1, "commented", activity.Extra(map[string]any{"email": p9.email, "body": "It fails for me, " + p9.name}))
	record(p8.ctx(), tenantTickets, 1, "commented", activity.Extra(map[string]any{"email": p8.email, "body": "on it"}))
	record(p8.ctx(), tenantTickets, 2, "assigned", activity.Record(p9.ref()))
	record(p8.ctx(), tenantTickets, 2, "invited", activity.Extra(map[string]any{"email": p9.email}))
	record(p8.ctx(), tenantMembers, 9, "viewed")
	record(p8.ctx(), tenantTickets, 1, "commented", activity.Extra(map[string]any{"email": p8.email, "body": "fixed, " + p8.name}))

	// Preferences and delivery choices: user 9 mutes assignment mails and
	// collapses in-app notifications.
	if err := inbox.Mute(tctx, db, "9", inbox.ChannelEmail, "ticket", "assigned"); err != nil {
		t.Fatal(err)
	}
	// Addresses outside the app: user 9's browser, labelled with their
	// user agent, and the household phone users 9 and 8 share, which 8
	// labelled with 8's name (8's row: not in 9's export).
	for _, a := range []device.Address{
		{Recipient: "9", Kind: device.WebPush, Address: "https://push.example/" + p9.tenant + "/9", P256dh: pushKey, Auth: pushAuth, Label: p9.ua},
		{Recipient: "9", Kind: device.Phone, Address: householdPhone},
		{Recipient: "8", Kind: device.Phone, Address: householdPhone, Label: p8.name},
	} {
		if _, err := device.Register(tctx, db, a); err != nil {
			t.Fatal(err)
		}
	}
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(tctx, db, "9", inbox.ChannelApp, "member", inbox.AnyAction, inbox.BatchedOn(inbox.EveryHour())); err != nil {
		t.Fatal(err)
	}
	// User 8 collapses ticket notifications: theirs list user 9 among
	// their actors.
	if err := defaults.SetChoice(tctx, db, "8", inbox.ChannelApp, "ticket", inbox.AnyAction, inbox.BatchedOn(inbox.EveryHour())); err != nil {
		t.Fatal(err)
	}
	both := func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{"8", "9"}, nil }
	app, err := notify.New(notify.Config{Name: "app", Recipients: both, RecipientType: "users"})
	if err != nil {
		t.Fatal(err)
	}
	collapsed, err := notify.New(notify.Config{Name: "app-collapsed", RecipientType: "users", Defaults: defaults, Batching: true, Recipients: both})
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Config{})
	sender, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tpls := email.NewTemplates(email.TemplatesConfig{})
	for _, d := range []string{"ticket", "member"} {
		if err := tpls.Register(d, email.AnyAction, email.DefaultTemplate()); err != nil {
			t.Fatal(err)
		}
	}
	builder, err := email.NewBuilder(email.BuilderConfig{From: "Tracker <notify@example.com>", Templates: tpls,
		SubjectURL: func(ev activity.Event) string { return "https://tracker.example.com/" + ev.Domain + "/" + ev.SubjectID }})
	if err != nil {
		t.Fatal(err)
	}
	mailTo := func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) {
		return []email.Recipient{{ID: "9", Name: p9.name, Email: p9.email}, {ID: "8", Name: p8.name, Email: p8.email}}, nil
	}
	newMail := func(cfg email.InboxConfig) *email.Inbox {
		t.Helper()
		cfg.Builder, cfg.Transport, cfg.DB, cfg.RecipientType, cfg.Recipients = builder, sender, db, "users", mailTo
		in, err := email.NewInbox(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	digest := newMail(email.InboxConfig{Name: "digest", Digest: &email.DigestConfig{Period: email.Hourly}})
	escalate := newMail(email.InboxConfig{Name: "escalate", Escalation: &email.EscalationConfig{Delay: time.Hour}})
	router, err := slackinbox.NewRouter(slackinbox.RouterConfig{Default: "#tickets",
		Rules: []slackinbox.Rule{{Domain: "member", SubjectID: "9", Channel: p9.slack}}})
	if err != nil {
		t.Fatal(err)
	}
	slackSrv := slacktest.Start(t, slacktest.Config{})
	poster, err := slackinbox.NewPoster(slackinbox.Config{Token: "xoxb-test", APIURL: slackSrv.APIURL(), Router: router, Threads: slackinbox.NewGormThreads(db)})
	if err != nil {
		t.Fatal(err)
	}
	slack, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: "slack", Publisher: poster})
	if err != nil {
		t.Fatal(err)
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: tenantTickets})
	if err != nil {
		t.Fatal(err)
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	reg.MustRegister("note", workflow.Action{
		Doc: "Note who commented.",
		Run: func(ctx context.Context, ac workflow.ActionContext) (workflow.Result, error) {
			return workflow.Result{Summary: "noted a comment by " + ac.Event.ActorLabel}, nil
		},
	})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: db, Schemas: []*workflow.Schema{schema}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Create(tctx, "users:8", workflow.Rule{Name: p9.name + "'s comments", Domain: "ticket", TriggeredOn: "commented",
		Conditions: workflow.Conditions{workflow.Cond("actor.label", workflow.OpEq, p9.name)},
		Actions:    []workflow.RuleAction{workflow.Do("note", workflow.Params{})}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		for _, in := range []inbox.Inbox{collapsed, app, digest, escalate, slack, engine} {
			if !in.Accepts(ev.Domain, ev.Action) {
				continue
			}
			if err := inboxtest.Process(t, db, in, ev); err != nil {
				t.Fatalf("%s on %s %s: %v", in.Name(), ev.Domain, ev.Action, err)
			}
		}
	}
}

// tenantTable is a table of the database and how its rows name their
// tenant: a tenant_id column of its own, or its parent's through a
// foreign key; neither for an operator's table.
type tenantTable struct {
	name, tenantCol       string // tenantCol: "tenant_id", or "" when the rows have no tenant
	parent, fk, parentKey string // the parent whose tenant_id the rows take
}

// tables lists every base table of db from information_schema (so a table
// added later is covered), each with how its rows name their tenant.
func tables(t *testing.T, db *gorm.DB) []tenantTable {
	t.Helper()
	var names []string
	if err := db.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`).Scan(&names).Error; err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("only %d tables found; the listing is broken", len(names))
	}
	hasTenant := func(table string) bool {
		var n int
		db.Raw(`SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? AND column_name = 'tenant_id'`, table).Scan(&n)
		return n == 1
	}
	var out []tenantTable
	for _, name := range names {
		tt := tenantTable{name: name}
		if hasTenant(name) {
			tt.tenantCol = "tenant_id"
		} else {
			var fks []struct{ Col, Parent, ParentCol string }
			db.Raw(`SELECT kcu.column_name AS col, ccu.table_name AS parent, ccu.column_name AS parent_col
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
WHERE tc.table_schema = 'public' AND tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = ?`, name).Scan(&fks)
			for _, fk := range fks {
				if hasTenant(fk.Parent) {
					tt.parent, tt.fk, tt.parentKey = fk.Parent, fk.Col, fk.ParentCol
				}
			}
		}
		out = append(out, tt)
	}
	return out
}

// snapshot returns, per table, the text of every row of tenant (its own
// or its parent's tenant_id), sorted; tables whose rows have no tenant
// are snapshotted whole under "<table> (no tenant)".
func snapshot(t *testing.T, db *gorm.DB, tenant string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tt := range tables(t, db) {
		q := `SELECT x::text FROM "` + tt.name + `" x`
		var args []any
		key := tt.name
		switch {
		case tt.tenantCol != "":
			q += ` WHERE x.tenant_id::text = ?`
			args = append(args, tenant)
		case tt.parent != "":
			q += ` WHERE EXISTS (SELECT 1 FROM "` + tt.parent + `" p WHERE p."` + tt.parentKey + `" = x."` + tt.fk + `" AND p.tenant_id::text = ?)`
			args = append(args, tenant)
		default:
			key += " (no tenant)"
		}
		var rows []string
		if err := db.Raw(q, args...).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		sort.Strings(rows)
		out[key] = rows
	}
	return out
}

// diff names the tables whose snapshots differ, but those in allowed.
func diff(before, after map[string][]string, allowed ...string) []string {
	var out []string
	for k, rows := range before {
		if !slices.Equal(rows, after[k]) && !slices.Contains(allowed, k) {
			out = append(out, fmt.Sprintf("%s: %d rows before, %d after", k, len(rows), len(after[k])))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, k+": new table")
		}
	}
	sort.Strings(out)
	return out
}

// scanDB returns "table.column: string" for every text-like column of
// every table of db holding one of strs as a whole word, ignoring case.
func scanDB(t *testing.T, db *gorm.DB, strs []string) []string {
	t.Helper()
	var cols []struct{ TableName, ColumnName string }
	if err := db.Raw(`SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
  AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'ARRAY', 'USER-DEFINED')
ORDER BY 1, 2`).Scan(&cols).Error; err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cols {
		for _, s := range strs {
			var n int64
			q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE %q::text ~* ?`, c.TableName, c.ColumnName)
			if err := db.Raw(q, `(?<![[:alnum:]])`+regexp.QuoteMeta(s)+`(?![[:alnum:]])`).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				out = append(out, fmt.Sprintf("%s.%s: %q", c.TableName, c.ColumnName, s))
			}
		}
	}
	sort.Strings(out)
	return out
}

func newTenantPrivacy(t *testing.T, across bool) *privacy.Privacy {
	t.Helper()
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{tenantTickets, tenantMembers}, PersonsAcrossTenants: across})
	if err != nil {
		t.Fatal(err)
	}
	return px
}

// Erasing acme's user 9 leaves every row of globex, whose user 9 is
// another person with the same key, byte for byte as it was (every table
// of the database, found in information_schema; a child table by its
// parent's tenant), and leaves none of Ana's strings anywhere. Without a
// tenant on the context, nothing is erased: ErrNoTenant.
func TestEraseStaysInTheTenant(t *testing.T) {
	db := tenantDB(t)
	px := newTenantPrivacy(t, false)
	// The seeding reached every path, in both tenants.
	for _, m := range []member{ana, gus} {
		got := scanDB(t, db, []string{m.name})
		for _, col := range []string{"ticket_events.actor_label", "ticket_events.record_label", "notifications.actor_label", "notifications.actors",
			"email_escalations.event", "email_escalations.recipient_name", "workflow_rules.name", "workflow_runs.rule_name", "workflow_action_runs.result"} {
			if !slices.ContainsFunc(got, func(h string) bool { return strings.HasPrefix(h, col+":") }) {
				t.Errorf("before erasure, no %s of %s's in %s; the test does not seed that path (hits: %v)", m.name, m.tenant, col, got)
			}
		}
	}
	if got := scanDB(t, db, []string{gus.slack}); !slices.ContainsFunc(got, func(h string) bool { return strings.HasPrefix(h, "slack_threads.") }) {
		t.Errorf("no Slack thread names %s: %v", gus.slack, got)
	}
	for _, m := range []member{ana, gus} {
		if got := scanDB(t, db, []string{m.ua}); !slices.ContainsFunc(got, func(h string) bool { return strings.HasPrefix(h, "device_addresses.label:") }) {
			t.Errorf("no device address of %s's is labelled %s: %v", m.tenant, m.ua, got)
		}
	}

	// Without a tenant: refused before any write.
	all := snapshot(t, db, "acme")
	if _, err := px.Erase(context.Background(), db, ana.person(), privacy.Request{By: "support:1"}); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("erase without a tenant: %v, want activity.ErrNoTenant", err)
	}
	if _, err := px.Erase(activity.AcrossTenants(context.Background()), db, ana.person(), privacy.Request{By: "support:1"}); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("erase under AcrossTenants, without Config.PersonsAcrossTenants: %v, want activity.ErrNoTenant", err)
	}
	if d := diff(all, snapshot(t, db, "acme")); len(d) > 0 {
		t.Fatalf("a refused erasure changed: %v", d)
	}

	globex := snapshot(t, db, "globex")
	rec, err := px.Erase(activity.WithTenant(context.Background(), "acme"), db, ana.person(), privacy.Request{By: "support:1", Reason: "ticket 24"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Tenant != "acme" || rec.Counts["ticket_events"] == 0 || rec.Counts["notifications"] == 0 {
		t.Errorf("erasure record %+v; want tenant acme and counts", rec)
	}
	// The tables without a tenant that an erasure of acme's person may
	// change: its record, and the rule version its masked rule moved on.
	if d := diff(globex, snapshot(t, db, "globex"), "tidings_erasures (no tenant)", "workflow_versions (no tenant)"); len(d) > 0 {
		t.Errorf("erasing acme's user 9 changed globex's rows:\n  %s", strings.Join(d, "\n  "))
	}
	if got := scanDB(t, db, ana.strings()); len(got) > 0 {
		t.Errorf("after erasure, Ana's data is still in:\n  %s", strings.Join(got, "\n  "))
	}
	// Ana's addresses are gone; Ben's registration of the household
	// phone is his (the app did not name the number among her values).
	var addrs []string
	if err := db.Raw(`SELECT tenant_id || ' ' || recipient || ' ' || kind FROM device_addresses ORDER BY 1`).Scan(&addrs).Error; err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme 8 phone", "globex 8 phone", "globex 9 phone", "globex 9 webpush"}; !slices.Equal(addrs, want) {
		t.Errorf("addresses after erasing acme's user 9 = %q, want %q", addrs, want)
	}
	for _, m := range []member{ben, gus, gia} {
		if got := scanDB(t, db, []string{m.name}); len(got) == 0 {
			t.Errorf("%s's name is gone: erasure must touch only Ana's data", m.name)
		}
	}
	// The record belongs to acme: globex's user 9 has none.
	if got, err := privacy.Erasures(activity.WithTenant(context.Background(), "acme"), db, ana.ref()); err != nil || len(got) != 1 || got[0].ID != rec.ID || got[0].Tenant != "acme" {
		t.Errorf("acme's erasures of users:9 = %+v, %v; want record %d", got, err, rec.ID)
	}
	if got, err := privacy.Erasures(activity.WithTenant(context.Background(), "globex"), db, gus.ref()); err != nil || len(got) != 0 {
		t.Errorf("globex's erasures of users:9 = %+v, %v; want none", got, err)
	}
	// Reapply erases acme's person again, in acme only.
	globex = snapshot(t, db, "globex")
	if n, err := px.Reapply(context.Background(), db, "ops:restore"); err != nil || n != 1 {
		t.Fatalf("Reapply = %d, %v; want 1 person", n, err)
	}
	if d := diff(globex, snapshot(t, db, "globex"), "tidings_erasures (no tenant)", "workflow_versions (no tenant)"); len(d) > 0 {
		t.Errorf("Reapply of acme's erasure changed globex's rows:\n  %s", strings.Join(d, "\n  "))
	}
}

// Under Config.PersonsAcrossTenants the app says user 9 is one person in
// every tenant: Export holds both tenants' rows (preferences included),
// and Erase reaches both, whatever tenant the context carries.
func TestPersonsAcrossTenants(t *testing.T) {
	db := tenantDB(t)
	px := newTenantPrivacy(t, true)
	ctx := activity.WithTenant(context.Background(), "acme") // ignored
	p := ana.person().WithValues(gus.name, gus.email, gus.slack)
	var buf bytes.Buffer
	if err := px.Export(ctx, db, p, &buf); err != nil {
		t.Fatal(err)
	}
	lines := decodeExport(t, buf.Bytes())
	tenants := map[string]map[string]bool{}
	for _, l := range lines {
		var tn string
		switch l.Type {
		case privacy.LineEvent:
			tn = l.Event.TenantID
		case privacy.LineNotification:
			tn = l.Notification.Tenant
		case privacy.LinePreference:
			tn = l.Preference.Tenant
		case privacy.LineDelivery:
			tn = l.Delivery.Tenant
		case privacy.LineDevice:
			tn = l.Device.Tenant
		case privacy.LinePerson:
			if !l.Person.AcrossTenants || l.Person.Tenant != "" {
				t.Errorf("person line %+v; want across_tenants", l.Person)
			}
			continue
		default:
			continue
		}
		if tenants[l.Type] == nil {
			tenants[l.Type] = map[string]bool{}
		}
		tenants[l.Type][tn] = true
	}
	for _, kind := range []string{privacy.LineEvent, privacy.LineNotification, privacy.LinePreference, privacy.LineDelivery, privacy.LineDevice} {
		if !tenants[kind]["acme"] || !tenants[kind]["globex"] {
			t.Errorf("%s lines of tenants %v; want acme's and globex's", kind, tenants[kind])
		}
	}
	if _, err := px.Erase(ctx, db, p, privacy.Request{By: "support:1"}); err != nil {
		t.Fatal(err)
	}
	if got := scanDB(t, db, append(ana.strings(), gus.strings()...)); len(got) > 0 {
		t.Errorf("after an erasure across tenants, user 9's data is still in:\n  %s", strings.Join(got, "\n  "))
	}
	if got, err := privacy.Erasures(activity.AcrossTenants(context.Background()), db, ana.ref()); err != nil || len(got) != 1 || got[0].Tenant != "" {
		t.Errorf("erasures across tenants = %+v, %v; want one without a tenant", got, err)
	}
}

// exportedLine is an export line decoded by shape: every key of every
// shape must be snake_case (see snakeKeys).
type exportedLine struct {
	Type         string                    `json:"type"`
	Person       *privacy.PersonLine       `json:"person"`
	ExportedAt   *time.Time                `json:"exported_at"`
	Role         string                    `json:"role"`
	Event        *activity.Event           `json:"event"`
	Notification *privacy.NotificationLine `json:"notification"`
	Preference   *inbox.StoredPreference   `json:"preference"`
	Delivery     *inbox.StoredChoice       `json:"delivery"`
	Device       *device.Address           `json:"device"`
	Counts       map[string]int64          `json:"counts"`
}

var snakeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// snakeKeys returns the keys of v (decoded JSON) that are not snake_case,
// but inside an event's extra and tags, which are the app's.
func snakeKeys(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeRE.MatchString(k) {
				out = append(out, path+"."+k)
			}
			if k == "extra" || k == "tags" || k == "counts" {
				continue
			}
			out = append(out, snakeKeys(e, path+"."+k)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, snakeKeys(e, path+"[]")...)
		}
	}
	return out
}

func decodeExport(t *testing.T, b []byte) []exportedLine {
	t.Helper()
	var out []exportedLine
	for i, raw := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, raw)
		}
		typ, _ := m["type"].(string)
		if bad := snakeKeys(m, typ); len(bad) > 0 {
			t.Errorf("line %d has keys that are not snake_case: %v\n%s", i+1, bad, raw)
		}
		var l exportedLine
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d does not decode as its shape: %v: %s", i+1, err, raw)
		}
		out = append(out, l)
	}
	if len(out) == 0 || out[len(out)-1].Type != privacy.LineEnd {
		t.Fatalf("the export does not end with an end line: %s", b)
	}
	return out
}

// Exporting acme's user 9 gives every row about Ana in acme (each event
// she is the actor, record or subject of or was notified of, her
// notifications, preference, delivery choice and addresses outside the
// app, but not her neighbour's registration of the phone they share),
// each line decoded by its shape with snake_case keys, none of globex's,
// and no personal field of anyone else: the output holds none of Ben's,
// Gus's or Gia's strings.
func TestExportIsCompleteAndPrivate(t *testing.T) {
	db := tenantDB(t)
	px := newTenantPrivacy(t, false)
	ctx := activity.WithTenant(context.Background(), "acme")
	if err := px.Export(context.Background(), db, ana.person(), &bytes.Buffer{}); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("export without a tenant: %v, want activity.ErrNoTenant", err)
	}
	var buf bytes.Buffer
	if err := px.Export(ctx, db, ana.person(), &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := decodeExport(t, buf.Bytes())

	// What the database holds about Ana in acme.
	ids := func(q string) []int64 {
		t.Helper()
		var got []int64
		if err := db.Raw(q).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		return got
	}
	wantTickets := ids(`SELECT id FROM ticket_events WHERE tenant_id = 'acme' AND ((actor_type = 'users' AND actor_id = '9') OR (record_type = 'users' AND record_id = '9')
   OR id IN (SELECT event_id FROM notifications WHERE tenant_id = 'acme' AND recipient = '9' AND domain = 'ticket'))`)
	wantMembers := ids(`SELECT id FROM member_events WHERE tenant_id = 'acme' AND (subject_id = 9 OR (actor_type = 'users' AND actor_id = '9')
   OR id IN (SELECT event_id FROM notifications WHERE tenant_id = 'acme' AND recipient = '9' AND domain = 'member'))`)
	wantNotes := ids(`SELECT id FROM notifications WHERE tenant_id = 'acme' AND recipient = '9'`)
	var gotTickets, gotMembers, gotNotes []int64
	var prefs, choices int
	var devices []string
	var person *privacy.PersonLine
	for _, l := range lines {
		switch l.Type {
		case privacy.LinePerson:
			person = l.Person
		case privacy.LineEvent:
			if l.Event.TenantID != "acme" {
				t.Errorf("exported an event of tenant %q: %+v", l.Event.TenantID, l.Event)
			}
			if l.Event.Domain == "ticket" {
				gotTickets = append(gotTickets, l.Event.ID)
			} else {
				gotMembers = append(gotMembers, l.Event.ID)
			}
		case privacy.LineNotification:
			if l.Notification.Tenant != "acme" || l.Notification.Recipient != "9" {
				t.Errorf("exported a notification of %q/%q", l.Notification.Tenant, l.Notification.Recipient)
			}
			gotNotes = append(gotNotes, l.Notification.ID)
		case privacy.LinePreference:
			prefs++
			if l.Preference.Tenant != "acme" || l.Preference.Action != "assigned" || !l.Preference.Muted {
				t.Errorf("preference line %+v; want acme's mute of assigned", l.Preference)
			}
		case privacy.LineDevice:
			devices = append(devices, string(l.Device.Kind)+" "+l.Device.Address+" "+l.Device.Label)
			if l.Device.Tenant != "acme" || l.Device.Recipient != "9" {
				t.Errorf("device line %+v; want an address of acme's users:9", l.Device)
			}
			if l.Device.Auth != "" {
				t.Errorf("device line %+v carries the push subscription's auth secret; an export leaves credentials out", l.Device)
			}
		case privacy.LineDelivery:
			choices++
			if l.Delivery.Tenant != "acme" || l.Delivery.Domain != "member" {
				t.Errorf("delivery line %+v; want acme's choice for member", l.Delivery)
			}
		}
	}
	for _, s := range [][]int64{gotTickets, gotMembers, gotNotes} {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	if person == nil || person.Type != "users" || person.ID != "9" || person.Tenant != "acme" || person.Label != ana.name {
		t.Errorf("person line %+v; want users:9 of acme labelled %q", person, ana.name)
	}
	if len(wantTickets) < 5 || !slices.Equal(gotTickets, wantTickets) {
		t.Errorf("ticket events exported %v, want %v", gotTickets, wantTickets)
	}
	if len(wantMembers) == 0 || !slices.Equal(gotMembers, wantMembers) {
		t.Errorf("member events exported %v, want %v", gotMembers, wantMembers)
	}
	if len(wantNotes) == 0 || !slices.Equal(gotNotes, wantNotes) {
		t.Errorf("notifications exported %v, want %v", gotNotes, wantNotes)
	}
	if prefs != 1 || choices != 1 {
		t.Errorf("%d preference and %d delivery lines; want 1 and 1", prefs, choices)
	}
	// Her browser and her registration of the household phone; not Ben's
	// registration of the same phone, nor globex's user 9's browser.
	sort.Strings(devices)
	if want := []string{"phone " + householdPhone + " ", "webpush https://push.example/acme/9 " + ana.ua}; !slices.Equal(devices, want) {
		t.Errorf("device lines %q, want %q", devices, want)
	}
	// Ana's own data is there; nobody else's.
	for _, s := range []string{ana.name, ana.email, ana.ip, ana.ua} {
		if !strings.Contains(out, s) {
			t.Errorf("the export lacks Ana's own %q", s)
		}
	}
	for _, m := range []member{ben, gus, gia} {
		for _, s := range m.strings() {
			if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
				t.Errorf("the export holds %s's %q (%s)", m.name, s, m.tenant)
			}
		}
	}
}

// A mounted privacy handler answers a session without a tenant with 403
// and a clear message (never 500), before reading anything; the same
// session with a tenant gets its export.
func TestHandlerWithoutTenant(t *testing.T) {
	db := tenantDB(t)
	h, err := privacy.NewHandler(privacy.HandlerConfig{Privacy: newTenantPrivacy(t, false), DB: db, AllowErase: true, Logger: discard(),
		Authorize: func(r *http.Request, action string) (activity.Person, string, error) {
			return ana.person(), "users:9", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db, "acme")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/me/data", nil))
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), privacy.NoTenantMessage) {
			t.Errorf("%s without a tenant: %d %q; want 403 with %q", method, rec.Code, rec.Body.String(), privacy.NoTenantMessage)
		}
	}
	if d := diff(before, snapshot(t, db, "acme")); len(d) > 0 {
		t.Errorf("a refused request changed: %v", d)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/me/data", nil)
	h.ServeHTTP(rec, req.WithContext(activity.WithTenant(req.Context(), "acme")))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), ana.email) {
		t.Errorf("GET in acme: %d\n%.300s", rec.Code, rec.Body.String())
	}
}

// A Privacy over tenanted and untenanted domains is refused: an
// untenanted domain's users:9 is every tenant's, so erasing one person
// would rewrite the others'; unless the app says its ids are global.
func TestConfigRefusesMixedTenancy(t *testing.T) {
	_, err := privacy.New(privacy.Config{Domains: []*activity.Domain{tenantTickets, issues}})
	if !errors.Is(err, privacy.ErrInvalidConfig) || !strings.Contains(err.Error(), "PersonsAcrossTenants") {
		t.Errorf("mixed domains: %v; want ErrInvalidConfig naming PersonsAcrossTenants", err)
	}
	if _, err := privacy.New(privacy.Config{Domains: []*activity.Domain{tenantTickets, issues}, PersonsAcrossTenants: true}); err != nil {
		t.Errorf("mixed domains with global person ids: %v", err)
	}
}
