package crosstenant_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
	"github.com/tidingsdev/tidings/workflow"
)

// The two tenants: organisation 1 is A, the caller; 2 is B, whose data the
// calls aim at.
const (
	tenantA = "1"
	tenantB = "2"
)

// as is a request of a person of tenant t (what activity.Middleware sets).
func as(t, user string) context.Context {
	ctx := activity.WithTenant(context.Background(), t)
	return activity.WithActor(ctx, activity.Ref{Type: "users", ID: user, Label: "user " + user})
}

// tenantTables are the library's tables that hold tenant rows.
var tenantTables = []string{
	"ticket_events", "activity_outbox", "inbox_deliveries", "notifications", "notification_preferences",
	"email_digests", "email_escalations", "slack_threads", "workflow_rules", "workflow_runs", "workflow_action_runs",
	"webhook_subscriptions", "batch_windows", "batch_items", "notification_delivery", "notification_heads", "device_addresses",
}

// snapshot returns, per table, the number of tenant t's rows and a digest
// of their contents.
func snapshot(t *testing.T, tenant string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range tenantTables {
		var n int64
		var sum string
		if err := testDB.Raw(`SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM `+table+` x WHERE tenant_id::text = ?`, tenant).
			Row().Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		out[table] = sum
		out[table+" rows"] = string(rune('0' + min(n, 9)))
	}
	return out
}

// tenantWorld is one tenant's data: the same subjects, people and actions
// in each tenant.
type tenantWorld struct {
	events []activity.Event // commented on issue 1 by 7, opened on issue 2 by 7, commented on issue 1 by 8
	rule   workflow.Rule
	notes  []notify.Notification // users:8's
	thread slack.Posted
}

type world struct {
	notify *notify.Inbox
	rules  *workflow.Rules
	engine *workflow.Engine
	poster *slack.Poster
	unsub  *email.UnsubscribeHandler
	tenant map[string]*tenantWorld
	batch  *batchWorld
	// settings are B's webhook subscription and keyed rule
	settings *settingsWorld
	// devices are each tenant's addresses of its people outside the app
	devices *deviceWorld
	// slack is the Slack peer the tenants' threads were opened on
	slack *slacktest.Server
	// process is what the job-side cases need of B
	process *processWorld
}

func build(t *testing.T) *world {
	t.Helper()
	n, err := notify.New(notify.Config{
		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
			return []string{"7", "8"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: tickets})
	if err != nil {
		t.Fatal(err)
	}
	// The app's rules (its request handlers: lists, edits, dry runs) are
	// held to the policies; the engine's, whose cache holds every
	// tenant's rules, serve every tenant.
	registry := workflow.NewRegistry(workflow.RegistryConfig{})
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: appDB, Schemas: []*workflow.Schema{schema}, Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	engineRules, err := workflow.NewRules(workflow.RulesConfig{DB: testDB, Schemas: []*workflow.Schema{schema}, Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: engineRules})
	if err != nil {
		t.Fatal(err)
	}
	srv := slacktest.Start(t, slacktest.Config{})
	router, err := slack.NewRouter(slack.RouterConfig{Default: "#issues"})
	if err != nil {
		t.Fatal(err)
	}
	poster, err := slack.NewPoster(slack.Config{Token: "xoxb-test", APIURL: srv.APIURL(), Router: router, Threads: slack.NewGormThreads(appDB), ChannelRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	unsub, err := email.NewUnsubscribeHandler(email.UnsubscribeConfig{BaseURL: "http://localhost/unsubscribe", Secrets: [][]byte{[]byte(strings.Repeat("k", 32))}, DB: appDB})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{notify: n, rules: rules, engine: engine, poster: poster, unsub: unsub, slack: srv, tenant: map[string]*tenantWorld{}}

	for _, tn := range []string{tenantA, tenantB} {
		tw := &tenantWorld{}
		w.tenant[tn] = tw
		// Tenant B's default: nobody hears of "opened" in the app; A has none.
		if tn == tenantB {
			if err := inbox.SetPreference(as(tn, "1"), appDB, inbox.Preference{Recipient: inbox.TenantDefault, Channel: inbox.ChannelApp, Domain: "ticket", Action: "opened", Muted: true}); err != nil {
				t.Fatal(err)
			}
		}
		// users:8 mutes "opened" mails in each tenant.
		if err := inbox.Mute(as(tn, "8"), appDB, "8", inbox.ChannelEmail, "ticket", "opened"); err != nil {
			t.Fatal(err)
		}
		// A rule per tenant: a comment reopens the ticket.
		r, err := rules.Create(as(tn, "7"), "users:7", workflow.Rule{
			Name: "reopen on comment", Domain: "ticket", TriggeredOn: "commented", Enabled: true,
			Actions: []workflow.RuleAction{workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "opened"})},
		})
		if err != nil {
			t.Fatal(err)
		}
		tw.rule = r
	}
	if err := engine.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []string{tenantA, tenantB} {
		tw := w.tenant[tn]
		for _, rec := range []struct {
			user, action string
			subject      int64
		}{{"7", "commented", 1}, {"7", "opened", 2}, {"8", "commented", 1}} {
			res, err := tickets.RecordEvent(as(tn, rec.user), appDB, rec.subject, rec.action)
			if err != nil {
				t.Fatal(err)
			}
			if res.Event.TenantID != tn {
				t.Fatalf("recorded in tenant %q, want %s", res.Event.TenantID, tn)
			}
			tw.events = append(tw.events, res.Event)
		}
	}
	// The outbox rows carry the tenant; the jobs the relay enqueues carry
	// the event's reference only, and the worker loads the event, with its
	// tenant, from PostgreSQL (nothing of a tenant's is in Redis).
	var outboxTenants []string
	if err := testDB.Raw(`SELECT coalesce(tenant_id, '') FROM activity_outbox WHERE domain = 'ticket' ORDER BY event_id`).Scan(&outboxTenants).Error; err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", "1", "1", "2", "2", "2"}; !slices.Equal(outboxTenants, want) {
		t.Fatalf("outbox tenants = %v, want %v", outboxTenants, want)
	}
	inboxtest.Relay(t, testDB, redisOpt, []*activity.Domain{tickets}, n)
	for _, tn := range []string{tenantA, tenantB} {
		for _, ev := range w.tenant[tn].events {
			info := inboxtest.AssertEnqueued(t, redisOpt, n, ev.Ref())
			if want := fmt.Sprintf("%s %d %s", ev.Domain, ev.ID, ev.Action); string(info.Payload) != want {
				t.Fatalf("job of %s in tenant %s carries %q, want its reference %q", ev.Ref(), tn, info.Payload, want)
			}
		}
	}
	// The inboxes handle each event as the worker would.
	for _, tn := range []string{tenantA, tenantB} {
		tw := w.tenant[tn]
		for _, ev := range tw.events {
			if err := inboxtest.Process(t, appDB, n, ev); err != nil {
				t.Fatal(err)
			}
			if engine.Accepts(ev.Domain, ev.Action) {
				// The engine's rule cache holds every tenant's rules: it
				// reads them on the job's handle, which must be exempt.
				if err := inboxtest.Process(t, testDB, engine, ev); err != nil {
					t.Fatal(err)
				}
			}
			if ev.SubjectID == "1" {
				p, err := poster.Post(activity.WithTenant(context.Background(), tn), ev)
				if err != nil {
					t.Fatal(err)
				}
				if tw.thread.TS == "" {
					tw.thread = p
				} else if p.ThreadTS != tw.thread.TS {
					t.Fatalf("tenant %s: second post on issue 1 went to thread %q, want its own %q", tn, p.ThreadTS, tw.thread.TS)
				}
			}
		}
		page, err := notify.List(as(tn, "8"), appDB, notify.Query{Recipient: "8"})
		if err != nil {
			t.Fatal(err)
		}
		tw.notes = page.Notifications
	}
	cover(poster.Post) // each tenant's events on issue 1 went to a thread of its own
	if a, b := w.tenant[tenantA].thread, w.tenant[tenantB].thread; a.TS == b.TS || a.ThreadTS != "" || b.ThreadTS != "" {
		t.Fatalf("the tenants' issue 1 share a Slack thread: A %+v, B %+v", a, b)
	}
	// users:8 heard of 7's comment and opening in A, but not of "opened"
	// in B, whose default mutes it.
	if got := len(w.tenant[tenantA].notes); got != 2 {
		t.Fatalf("users:8 has %d notifications in A, want 2 (commented, opened)", got)
	}
	if got := len(w.tenant[tenantB].notes); got != 1 {
		t.Fatalf("users:8 has %d notifications in B, want 1 (commented; opened is off by B's default)", got)
	}
	// B's rule reopened B's ticket: the caused event is B's.
	caused, err := tickets.Feed(as(tenantB, "8"), appDB, activity.FeedQuery{CausedBy: ptr(w.tenant[tenantB].events[0].Ref())})
	if err != nil || len(caused.Entries) != 1 || caused.Entries[0].Event.TenantID != tenantB {
		t.Fatalf("events caused in B: %+v, %v", caused.Entries, err)
	}
	// B's person read the notification.
	if ok, err := notify.MarkRead(as(tenantB, "8"), appDB, "8", w.tenant[tenantB].notes[0].ID); err != nil || !ok {
		t.Fatalf("B marks its notification read: %v %v", ok, err)
	}
	buildBatching(t, w)
	buildStreams(t, w)
	buildSettings(t, w)
	buildDevices(t, w)
	buildProcess(t, w)
	return w
}

// buildStreams interleaves the tenants' arrivals for users:8 (comments on
// issue 2: three of B's, then one of A's), so a stream position shared
// across tenants would show in A's numbers, and B's head, higher than A's,
// in A's counts were the head's tenant filter gone; then B's person reads
// everything again.
func buildStreams(t *testing.T, w *world) {
	t.Helper()
	for _, tn := range []string{tenantB, tenantB, tenantB, tenantA} {
		res, err := tickets.RecordEvent(as(tn, "7"), appDB, 2, "commented")
		if err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, appDB, w.notify, res.Event); err != nil {
			t.Fatal(err)
		}
		page, err := notify.List(as(tn, "8"), appDB, notify.Query{Recipient: "8"})
		if err != nil {
			t.Fatal(err)
		}
		w.tenant[tn].notes = page.Notifications
	}
	if got := len(w.tenant[tenantA].notes); got != 3 {
		t.Fatalf("users:8 has %d notifications in A, want 3", got)
	}
	if _, err := notify.MarkAllRead(as(tenantB, "8"), appDB, "8"); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func crossTenant(t *testing.T, held bool) {
	w := build(t)
	a, b := w.tenant[tenantA], w.tenant[tenantB]
	ctx := as(tenantA, "8")
	before := snapshot(t, tenantB)
	for _, table := range []string{"ticket_events", "activity_outbox", "notifications", "notification_preferences", "slack_threads", "workflow_rules", "workflow_runs", "workflow_action_runs", "inbox_deliveries",
		"webhook_subscriptions", "batch_windows", "batch_items", "notification_delivery", "notification_heads", "device_addresses"} {
		if before[table+" rows"] == "0" {
			t.Fatalf("tenant B has no %s rows: the suite would prove nothing there", table)
		}
	}
	bIDs := make([]int64, len(b.events))
	bRefs := make([]activity.EventRef, len(b.events))
	for i, e := range b.events {
		bIDs[i], bRefs[i] = e.ID, e.Ref()
	}
	notB := func(api string, evs []activity.Event) {
		t.Helper()
		for _, e := range evs {
			if e.TenantID != tenantA {
				t.Errorf("activity %s as A returned event %d of tenant %q", api, e.ID, e.TenantID)
			}
		}
	}

	// The superuser, whom the policies do not hold, sees what the
	// library's filters alone let through: only A's rows in the normal
	// build, B's too in the tidings_rlsonly build, where the suite then
	// rests on the policies alone.
	t.Run("library-filters", func(t *testing.T) {
		page, err := tickets.Feed(ctx, testDB, activity.FeedQuery{})
		if err != nil {
			t.Fatal(err)
		}
		notes, err := notify.List(ctx, testDB, notify.Query{Recipient: "8", Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var seenB []string
		if slices.ContainsFunc(page.Events(), func(e activity.Event) bool { return e.TenantID == tenantB }) {
			seenB = append(seenB, "events")
		}
		if slices.ContainsFunc(notes.Notifications, func(n notify.Notification) bool { return n.Tenant == tenantB }) {
			seenB = append(seenB, "notifications")
		}
		want := 0
		if !tenantfilter.On {
			want = 2
		}
		if len(seenB) != want {
			t.Errorf("library filters on = %v, but the superuser as A sees B's %v", tenantfilter.On, seenB)
		}
	})

	t.Run("activity", func(t *testing.T) {
		cover(tickets.Event, tickets.EventsByID, tickets.EventsByIDAnd, tickets.Feed, tickets.Count, tickets.CountByAction, tickets.Replay, tickets.EventsAfter, tickets.Retract, tickets.RecordEvent)
		for _, id := range bIDs {
			if _, err := tickets.Event(ctx, appDB, id); !errors.Is(err, activity.ErrEventNotFound) {
				t.Errorf("Event(%d of B) as A: err = %v, want ErrEventNotFound", id, err)
			}
		}
		if m, err := tickets.EventsByID(ctx, appDB, bIDs); err != nil || len(m) != 0 {
			t.Errorf("EventsByID(B's) as A = %d events, %v", len(m), err)
		}
		if m, err := tickets.EventsByIDAnd(ctx, appDB, bIDs[:1], bIDs[1:], "TRUE"); err != nil || len(m) != 0 {
			t.Errorf("EventsByIDAnd(B's, B's more) as A = %d events, %v", len(m), err)
		}
		for _, q := range []activity.FeedQuery{{Subject: 1}, {Subject: 2}, {}, {Actor: activity.Ref{Type: "users", ID: "7"}}, {CausedBy: ptr(b.events[0].Ref())}, {Actions: []string{"commented"}}} {
			page, err := tickets.Feed(ctx, appDB, q)
			if err != nil {
				t.Fatal(err)
			}
			notB("Feed", page.Events())
		}
		hq := activity.HistoryQuery{Subject: 1}
		if n, _, err := tickets.Count(ctx, appDB, hq); err != nil || n != 4 { // two comments, two reopens by the rule
			t.Errorf("Count(issue 1) as A = %d, %v; want A's 4", n, err)
		}
		if c, err := tickets.CountByAction(ctx, appDB, hq); err != nil || c["commented"] != 2 {
			t.Errorf("CountByAction as A = %v, %v", c, err)
		}
		var replayed []activity.Event
		for e, err := range tickets.Replay(ctx, appDB, activity.HistoryQuery{}, 0) {
			if err != nil {
				t.Fatal(err)
			}
			replayed = append(replayed, e)
		}
		notB("Replay", replayed)
		after, err := tickets.EventsAfter(ctx, appDB, activity.HistoryQuery{}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		notB("EventsAfter", after)
		if res, err := tickets.Retract(ctx, appDB, activity.Retraction{Events: bIDs, Action: "commented_retracted", Reason: "attack"}); err != nil || len(res.Retracted) != 0 {
			t.Errorf("Retract(B's) as A = %d retracted, %v", len(res.Retracted), err)
		}
		// Recording as A while handling B's event is refused.
		job := activity.WithCause(ctx, activity.CauseOf(b.events[0]))
		if _, err := tickets.RecordEvent(job, appDB, 1, "opened"); !errors.Is(err, activity.ErrCrossTenant) {
			t.Errorf("record in A caused by B's event: err = %v, want ErrCrossTenant", err)
		}
		// Without a tenant: an error, never every tenant.
		if _, err := tickets.Feed(context.Background(), appDB, activity.FeedQuery{}); !errors.Is(err, activity.ErrNoTenant) {
			t.Errorf("Feed without a tenant: err = %v, want ErrNoTenant", err)
		}
	})

	t.Run("inbox", func(t *testing.T) {
		cover(inbox.Delivered, inbox.Preferences, inbox.Unmute, inbox.SetPreference, inbox.Unmuted)
		if got, err := inbox.Delivered(ctx, appDB, bRefs); err != nil || len(got) != 0 {
			t.Errorf("Delivered(B's events) as A = %v, %v; want none", got, err)
		}
		prefs, err := inbox.Preferences(ctx, appDB, "8")
		if err != nil || len(prefs) != 1 {
			t.Errorf("Preferences(8) as A = %v, %v; want A's one mute", prefs, err)
		}
		if prefs, err := inbox.Preferences(ctx, appDB, inbox.TenantDefault); err != nil || len(prefs) != 0 {
			t.Errorf("B's tenant default seen as A: %v, %v", prefs, err)
		}
		// A's default and A's choices leave B's alone.
		if err := inbox.Unmute(ctx, appDB, inbox.TenantDefault, inbox.ChannelApp, "ticket", "opened"); err != nil {
			t.Error(err)
		}
		if err := inbox.Unmute(ctx, appDB, "8", inbox.ChannelEmail, "ticket", "opened"); err != nil {
			t.Error(err)
		}
		if err := inbox.SetPreference(ctx, appDB, inbox.Preference{Recipient: "8", Channel: inbox.AnyChannel, Domain: "ticket", Action: inbox.AnyAction, Muted: true}); err != nil {
			t.Error(err)
		}
		if got, err := inbox.Unmuted(as(tenantB, "8"), appDB, inbox.ChannelApp, "ticket", "commented", []string{"8"}); err != nil || len(got) != 1 {
			t.Errorf("A's mute reached B: Unmuted in B = %v, %v", got, err)
		}
	})

	t.Run("notify", func(t *testing.T) {
		cover(notify.List, notify.Since, notify.UnreadCount, notify.CountsOf, notify.Get, notify.MarkRead, notify.MarkUnread, notify.Archive,
			notify.Unarchive, notify.Delete, notify.MarkAllRead, notify.MarkSeen)
		page, err := notify.List(ctx, appDB, notify.Query{Recipient: "8", Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page.Notifications {
			if n.Tenant != tenantA {
				t.Errorf("List as A returned notification %d of tenant %q", n.ID, n.Tenant)
			}
		}
		since, err := notify.Since(ctx, appDB, "8", 0, 0)
		if err != nil || len(since) != len(a.notes) {
			t.Errorf("Since(0) as A = %d, %v; want A's %d", len(since), err, len(a.notes))
		}
		if n, err := notify.UnreadCount(ctx, appDB, "8"); err != nil || n != int64(len(a.notes)) {
			t.Errorf("UnreadCount as A = %d, %v; want %d", n, err, len(a.notes))
		}
		if c, err := notify.CountsOf(ctx, appDB, "8"); err != nil || c.Unread != int64(len(a.notes)) || c.Head != int64(len(a.notes)) {
			t.Errorf("CountsOf as A = %+v, %v; want A's %d unread, and head %d: A's stream, which B's arrivals never number", c, err, len(a.notes), len(a.notes))
		}
		// A's stream is numbered 1, 2, 3: no gap where B's person got one.
		var seqs []int64
		for _, n := range since {
			seqs = append(seqs, n.Seq)
		}
		if want := []int64{1, 2, 3}; !slices.Equal(seqs, want) {
			t.Errorf("Seqs of users:8 in A = %v, want A's own %v", seqs, want)
		}
		if c, err := notify.CountsOf(as(tenantB, "8"), appDB, "8"); err != nil || c.Head != int64(len(b.notes)) {
			t.Errorf("CountsOf in B = %+v, %v; want head %d", c, err, len(b.notes))
		}
		for _, bn := range b.notes {
			if _, err := notify.Get(ctx, appDB, "8", bn.ID); !errors.Is(err, notify.ErrNotFound) {
				t.Errorf("Get(B's %d) as A: err = %v, want ErrNotFound", bn.ID, err)
			}
			for name, f := range map[string]func(context.Context, *gorm.DB, string, int64) (bool, error){
				"MarkRead": notify.MarkRead, "MarkUnread": notify.MarkUnread, "Archive": notify.Archive,
				"Unarchive": notify.Unarchive, "Delete": notify.Delete,
			} {
				if ok, err := f(ctx, appDB, "8", bn.ID); err != nil || ok {
					t.Errorf("%s(B's %d) as A = %v, %v; want false", name, bn.ID, ok, err)
				}
			}
		}
		if _, err := notify.MarkAllRead(ctx, appDB, "8"); err != nil {
			t.Error(err)
		}
		if _, err := notify.MarkSeen(ctx, appDB, "8"); err != nil {
			t.Error(err)
		}
		if n, err := notify.UnreadCount(as(tenantB, "8"), appDB, "8"); err != nil || n != 0 {
			// B's one notification was read in build; its count is B's own.
			t.Errorf("UnreadCount in B = %d, %v; want 0", n, err)
		}
	})

	t.Run("email", func(t *testing.T) {
		cover(email.NotificationRead)
		bNote := b.notes[0]
		if read, err := email.NotificationRead(ctx, appDB, "8", bNote.Event); err != nil || read {
			t.Errorf("NotificationRead of B's read notification as A = %v, %v; want false", read, err)
		}
		post := func(reqCtx context.Context, link string) int {
			req := httptest.NewRequest(http.MethodPost, link, strings.NewReader("List-Unsubscribe=One-Click"))
			req = req.WithContext(reqCtx) // the request of whoever is signed in
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			w.unsub.ServeHTTP(rec, req)
			return rec.Code
		}
		bLink, err := w.unsub.URL(email.Unsubscription{Recipient: "8", Channel: inbox.ChannelEmail, Domains: []string{"ticket"}, Action: "commented", Tenant: tenantB})
		if err != nil {
			t.Fatal(err)
		}
		for name, change := range map[string]func(url.Values){
			"tenant changed": func(q url.Values) { q.Set("o", tenantA) },
			"tenant dropped": func(q url.Values) { q.Del("o") },
		} {
			u, _ := url.Parse(bLink)
			q := u.Query()
			change(q)
			u.RawQuery = q.Encode()
			if code := post(ctx, u.String()); code != http.StatusForbidden {
				t.Errorf("B's link with the %s: %d, want 403", name, code)
			}
		}
		aLink, err := w.unsub.URL(email.Unsubscription{Recipient: "8", Channel: inbox.ChannelEmail, Domains: []string{"ticket"}, Action: "commented", Tenant: tenantA})
		if err != nil {
			t.Fatal(err)
		}
		// A's link mutes in A, whoever follows it: here a person signed
		// in to B.
		if code := post(as(tenantB, "8"), aLink); code != http.StatusOK {
			t.Errorf("A's link: %d, want 200", code)
		}
		if prefs, err := inbox.Preferences(ctx, appDB, "8"); err != nil || !slices.ContainsFunc(prefs, func(p inbox.Preference) bool { return p.Action == "commented" && p.Muted }) {
			t.Errorf("A's link did not mute in A: %v, %v", prefs, err)
		}
		// A mail of B's event links to a B unsubscription.
		link, err := w.unsub.UnsubscribeURL(ctx, email.Recipient{ID: "8", Email: "bo@example.com"}, &b.events[0])
		if err != nil || !strings.Contains(link, "o="+tenantB) {
			t.Errorf("UnsubscribeURL of B's event = %q, %v; want tenant %s in it", link, err, tenantB)
		}
	})

	t.Run("slack", func(t *testing.T) {
		threads := slack.NewGormThreads(appDB)
		cover(threads.Get, threads.Put)
		key := slack.ThreadKey{Domain: "ticket", SubjectID: "1", Route: "#issues", Tenant: tenantA}
		th, ok, err := threads.Get(ctx, key)
		if err != nil || !ok || th.TS != a.thread.TS {
			t.Errorf("A's thread of issue 1 = %+v %v %v; want A's %q, not B's %q", th, ok, err, a.thread.TS, b.thread.TS)
		}
		if err := threads.Put(ctx, key, "C1", "999.000"); err != nil {
			t.Error(err)
		}
	})

	t.Run("workflow", func(t *testing.T) {
		cover(w.rules.Get, w.rules.List, w.rules.Update, w.rules.SetEnabled, w.rules.Delete, w.rules.Runs, w.engine.Match)
		if _, err := w.rules.Get(ctx, b.rule.ID); !errors.Is(err, workflow.ErrRuleNotFound) {
			t.Errorf("Get(B's rule) as A: err = %v, want ErrRuleNotFound", err)
		}
		list, err := w.rules.List(ctx, workflow.RuleQuery{Domain: "ticket"})
		if err != nil || len(list) != 1 || list[0].ID != a.rule.ID {
			t.Errorf("List as A = %v, %v; want A's rule only", list, err)
		}
		changed := b.rule
		changed.Name = "hijacked"
		if _, err := w.rules.Update(ctx, "users:8", changed); !errors.Is(err, workflow.ErrRuleNotFound) {
			t.Errorf("Update(B's rule) as A: err = %v, want ErrRuleNotFound", err)
		}
		if _, err := w.rules.SetEnabled(ctx, "users:8", b.rule.ID, false); !errors.Is(err, workflow.ErrRuleNotFound) {
			t.Errorf("SetEnabled(B's rule) as A: err = %v, want ErrRuleNotFound", err)
		}
		if err := w.rules.Delete(ctx, b.rule.ID); !errors.Is(err, workflow.ErrRuleNotFound) {
			t.Errorf("Delete(B's rule) as A: err = %v, want ErrRuleNotFound", err)
		}
		runs, err := w.rules.Runs(ctx, workflow.RunQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.RuleID == b.rule.ID || slices.Contains(bIDs, r.Event.ID) {
				t.Errorf("Runs as A returned B's run %+v", r)
			}
		}
		if runs, err := w.rules.Runs(ctx, workflow.RunQuery{RuleID: b.rule.ID}); err != nil || len(runs) != 0 {
			t.Errorf("Runs(B's rule) as A = %d, %v", len(runs), err)
		}
		dry, err := w.rules.DryRun(ctx, b.rule, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range dry.Events {
			if e.Event.TenantID != tenantA {
				t.Errorf("DryRun as A looked at event %d of tenant %q", e.Event.ID, e.Event.TenantID)
			}
		}
		// B's rule never runs on A's events.
		matches, err := w.engine.Match(ctx, a.events[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if m.Rule.ID == b.rule.ID {
				t.Errorf("B's rule is a candidate for A's event")
			}
		}
	})

	t.Run("batching", func(t *testing.T) { testBatching(t, w, ctx) })
	t.Run("settings", func(t *testing.T) { testSettings(t, w, ctx) })
	t.Run("device", func(t *testing.T) { testDevices(t, w, ctx) })
	t.Run("process", func(t *testing.T) { testProcess(t, w, ctx) })
	t.Run("operations", func(t *testing.T) { testOperations(t, w, ctx) })
	t.Run("maintenance", func(t *testing.T) { testMaintenance(t, w, ctx, held) })
	t.Run("person", func(t *testing.T) { testPerson(t, w, ctx, held) }) // last: it erases A's users:8

	after := snapshot(t, tenantB)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("tenant B's %s changed", strings.TrimSuffix(k, " rows"))
		}
	}
}
