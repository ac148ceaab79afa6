package inbox_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

var orgIssues = activity.MustDomain(activity.DomainConfig{
	Name: "orgissue", Subject: activity.Subject{Table: "issues"}, Tenant: activity.KeyText,
	Actions: []string{"commented", "followed_up"},
})

var orgIssuesOnce sync.Once

// A job of a tenanted event gets the tenant (Delivery.Tenant, and the
// context's, so reads are scoped): the worker loads the event across
// tenants; what the job records inherits the tenant, and another tenant is
// refused.
func TestWorkerCarriesTheTenant(t *testing.T) {
	orgIssuesOnce.Do(func() {
		up, _ := activity.MigrationSQL(orgIssues)
		if err := testDB.Exec(up).Error; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("loaded", func(t *testing.T) {
		reset(t)
		type seen struct {
			tenant, ctxTenant string
			followed          activity.Event
			crossErr          error
		}
		var mu sync.Mutex
		got := map[int64]seen{}
		c := newCollector("tenants", func(domain, action string) bool { return action == "commented" })
		c.fn = func(ctx context.Context, d *inbox.Delivery) error {
			s := seen{tenant: d.Tenant, ctxTenant: activity.TenantText(ctx)}
			res, err := orgIssues.RecordEvent(ctx, d.DB, d.Event.SubjectID, "followed_up", activity.Actor(activity.System("bot")))
			if err != nil {
				return err
			}
			s.followed = res.Event
			_, s.crossErr = orgIssues.RecordEvent(ctx, d.DB, d.Event.SubjectID, "followed_up", activity.Actor(activity.System("bot")), activity.InTenant("globex"))
			mu.Lock()
			got[d.Event.ID] = s
			mu.Unlock()
			return nil
		}
		startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{c}, Domains: []*activity.Domain{issues, orgIssues}})
		_, issueID := newIssue(t)
		res, err := orgIssues.RecordEvent(activity.WithTenant(context.Background(), "acme"), testDB, issueID, "commented", activity.Actor(activity.Ref{Type: "users", ID: "1"}))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the delivery", func() bool { return c.count(res.Event.ID) == 1 }, c.changed)
		mu.Lock()
		s := got[res.Event.ID]
		mu.Unlock()
		if s.tenant != "acme" || s.ctxTenant != "acme" {
			t.Errorf("Delivery.Tenant %q, context's %q; want acme", s.tenant, s.ctxTenant)
		}
		if s.followed.TenantID != "acme" || s.followed.CausationID == nil || *s.followed.CausationID != res.Event.ID {
			t.Errorf("the job's event: tenant %q, cause %v; want acme, %d", s.followed.TenantID, s.followed.CausationID, res.Event.ID)
		}
		if !errors.Is(s.crossErr, activity.ErrCrossTenant) {
			t.Errorf("recording in another tenant from the job: %v, want ErrCrossTenant", s.crossErr)
		}
	})
}

// A tenant's default applies to its people who chose nothing, a person's
// own choice overrides it, and neither reaches another tenant.
func TestTenantDefaultPreferences(t *testing.T) {
	reset(t)
	acme, globex := activity.WithTenant(context.Background(), "acme"), activity.WithTenant(context.Background(), "globex")
	var d *inbox.Defaults
	if err := inbox.Mute(acme, testDB, inbox.TenantDefault, inbox.ChannelEmail, "issue", "comment_added"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(acme, testDB, inbox.Preference{Recipient: "2", Channel: inbox.ChannelEmail, Domain: "issue", Action: "comment_added", Muted: false}); err != nil {
		t.Fatal(err)
	}
	people := []string{"1", "2", "3"}
	got, err := d.Wanted(acme, testDB, inbox.ChannelEmail, "issue", "comment_added", "9", people)
	if err != nil || len(got) != 1 || got[0] != "2" {
		t.Errorf("acme's default off, 2 turned it on: wanted %v, %v; want [2]", got, err)
	}
	got, err = d.Wanted(globex, testDB, inbox.ChannelEmail, "issue", "comment_added", "9", people)
	if err != nil || len(got) != 3 {
		t.Errorf("globex has no default: wanted %v, %v; want all three", got, err)
	}
	if got, err := d.Wanted(acme, testDB, inbox.ChannelEmail, "issue", "label_added", "9", append(people, inbox.TenantDefault)); err != nil || len(got) != 3 {
		t.Errorf("another action in acme: wanted %v, %v; want the three people (never the default's key)", got, err)
	}
}

// A backfill created under a request's tenant counts, and runs up to, every
// tenant's events, as Run hands them out: it does not stop at that
// tenant's last event and skip the later events of the others.
func TestBackfillCreatedInATenantsRequestCoversEveryTenant(t *testing.T) {
	orgIssuesOnce.Do(func() {
		up, _ := activity.MigrationSQL(orgIssues)
		if err := testDB.Exec(up).Error; err != nil {
			t.Fatal(err)
		}
	})
	reset(t)
	ctx := context.Background()
	if err := testDB.Exec(`TRUNCATE inbox_backfills`).Error; err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	var last int64
	for _, org := range []string{"acme", "acme", "globex", "globex", "globex"} { // globex's are recorded last
		res, err := orgIssues.RecordEvent(activity.WithTenant(ctx, org), testDB, issueID, "commented", activity.Actor(activity.System("bot")))
		if err != nil {
			t.Fatal(err)
		}
		last = res.Event.ID
	}
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: testDB, Redis: redis, Domains: []*activity.Domain{orgIssues},
		Inboxes: []inbox.Inbox{&warehouse{name: "warehouse"}}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	b, err := bf.Create(activity.WithTenant(ctx, "acme"), inbox.BackfillSpec{Inbox: "warehouse", Query: inbox.BackfillQuery{Domain: orgIssues.Name(), Subjects: []string{strconv.FormatInt(issueID, 10)}}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != 5 || b.MaxID != last {
		t.Errorf("a backfill created under acme: total %d, max id %d; want every tenant's 5 events, up to %d", b.Total, b.MaxID, last)
	}
}
