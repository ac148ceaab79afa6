package crosstenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/projection"
)

// processWorld is what the job-side cases need of B before A's jobs run:
// a comment of B's on issue 1 still in the outbox (not relayed), and B's
// events applied by a projection.
type processWorld struct {
	waiting activity.Event // B's comment on issue 1, in the outbox
	proj    *projection.Projection
	folds   *folds
}

// folds is a projection that remembers what it applied and reverted.
type folds struct {
	mu       sync.Mutex
	applied  []int64
	reverted []int64
}

func (f *folds) Name() string                  { return "crosstenant_folds" }
func (f *folds) Accepts(domain, _ string) bool { return domain == "ticket" }
func (f *folds) Apply(_ context.Context, _ *gorm.DB, ev activity.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, ev.ID)
	return nil
}
func (f *folds) Revert(_ context.Context, _ *gorm.DB, ev activity.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reverted = append(f.reverted, ev.ID)
	return nil
}
func (f *folds) Reset(context.Context, *gorm.DB) error { return nil }

// buildProcess leaves a comment of B's on issue 1 in the outbox and lets
// a projection apply B's events, as B's worker would have.
func buildProcess(t *testing.T, w *world) {
	t.Helper()
	res, err := tickets.RecordEvent(as(tenantB, "7"), appDB, 1, "commented")
	if err != nil {
		t.Fatal(err)
	}
	f := &folds{}
	proj, err := projection.New(projection.Config{DB: appDB, Domains: []*activity.Domain{tickets}, Projector: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range w.tenant[tenantB].events {
		if err := inboxtest.Process(t, appDB, proj, ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.applied) != len(w.tenant[tenantB].events) {
		t.Fatalf("the projection applied %v of B's %d events", f.applied, len(w.tenant[tenantB].events))
	}
	w.process = &processWorld{waiting: res.Event, proj: proj, folds: f}
}

// testProcess runs, as the worker does, the jobs of A's events through
// the job-side inboxes (each under the event's tenant): nothing of B's is
// sent to, waited for, muted by or taken back.
func testProcess(t *testing.T, w *world, ctx context.Context) {
	a := w.tenant[tenantA]

	// Webhooks: A's events go to A's subscriptions only, never to B's
	// (the client refuses every address, so nothing leaves; the ledger
	// names each subscription a delivery was claimed for).
	t.Run("webhook", func(t *testing.T) {
		client := webhook.NewClient(webhook.Config{CheckAddr: func(netip.AddrPort) error {
			return errors.New("crosstenant: no address is reached")
		}})
		keys, err := webhook.NewKeyring("k1", map[string][]byte{"k1": []byte(strings.Repeat("s", 32))})
		if err != nil {
			t.Fatal(err)
		}
		subs, err := webhook.NewSubscriptions(webhook.SubscriptionsConfig{DB: appDB, Keyring: keys, Domains: []*activity.Domain{tickets}, Source: "/tidings/crosstenant", Client: client, Name: "crosstenant-webhooks"})
		if err != nil {
			t.Fatal(err)
		}
		cover(subs.Process)
		for _, ev := range a.events {
			// A's subscription is tried and refused (a misconfiguration).
			if err := inboxtest.Process(t, appDB, subs, ev); err == nil {
				t.Errorf("A's event %d: delivered, with every address refused", ev.ID)
			}
		}
		var claimed []string
		if err := testDB.Raw(`SELECT recipient FROM inbox_deliveries WHERE inbox = 'crosstenant-webhooks' ORDER BY recipient`).Scan(&claimed).Error; err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			t.Fatal("no subscription was tried: the case proves nothing")
		}
		if bSub := "subscription:" + strconv.FormatInt(w.settings.sub.ID, 10); slices.Contains(claimed, bSub) {
			t.Errorf("A's events were sent to B's subscription (%s): claimed %v", bSub, claimed)
		}
	})

	// Email: users:9 mutes comment mails in B, not in A: A's comment
	// reaches users:9 (the mute is B's), once.
	t.Run("email", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Config{})
		sender, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		tpls := email.NewTemplates(email.TemplatesConfig{})
		if err := tpls.Register("ticket", email.AnyAction, email.DefaultTemplate()); err != nil {
			t.Fatal(err)
		}
		b, err := email.NewBuilder(email.BuilderConfig{From: "Tidings <notify@example.com>", Templates: tpls, Host: "example.com",
			SubjectURL: func(ev activity.Event) string { return "https://tracker.example.com/tickets/" + ev.SubjectID }})
		if err != nil {
			t.Fatal(err)
		}
		nine := email.Recipient{ID: "9", Email: "nine@example.com"}
		in, err := email.NewInbox(email.InboxConfig{Name: "crosstenant-mail", Builder: b, Transport: sender,
			Recipients: func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) {
				return []email.Recipient{nine}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		cover(email.NewInbox, in.Process)
		comment := a.events[0]
		if err := inboxtest.Process(t, appDB, in, comment); err != nil {
			t.Fatal(err)
		}
		got := srv.Messages()
		if len(got) != 1 || got[0].Header.Get("Message-Id") != "<"+email.MessageID("example.com", comment.Ref(), nine.Email)+">" {
			t.Fatalf("A's comment mailed %d times (%+v); want once to users:9, whose mute is B's", len(got), got)
		}
	})

	// Slack: A's comment on issue 1 goes at once, not to B's thread; B's
	// comment on its own issue 1, still in the outbox, is not A's earlier
	// event to wait for (it would wait ThreadWait, past the context's
	// deadline).
	t.Run("slack", func(t *testing.T) {
		router, err := slack.NewRouter(slack.RouterConfig{Default: "#issues"})
		if err != nil {
			t.Fatal(err)
		}
		poster, err := slack.NewPoster(slack.Config{Token: "xoxb-test", APIURL: w.slack.APIURL(), Router: router, Threads: slack.NewGormThreads(appDB), ChannelRate: -1, ThreadWait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		in, err := slack.NewInbox(slack.InboxConfig{Name: "crosstenant-slack", Publisher: poster})
		if err != nil {
			t.Fatal(err)
		}
		cover(slack.NewInbox, in.Process)
		// A's own earlier events still in the outbox (recorded by the cases
		// above, never relayed) are A's to wait for: out of the way.
		if err := testDB.Exec(`DELETE FROM activity_outbox WHERE tenant_id = ?`, tenantA).Error; err != nil {
			t.Fatal(err)
		}
		var waiting int64
		if err := testDB.Raw(`SELECT count(*) FROM activity_outbox WHERE event_id = ?`, w.process.waiting.ID).Scan(&waiting).Error; err != nil || waiting != 1 {
			t.Fatalf("B's comment on issue 1 is not in the outbox (%d, %v): the case proves nothing", waiting, err)
		}
		res, err := tickets.RecordEvent(ctx, appDB, 1, "commented")
		if err != nil {
			t.Fatal(err)
		}
		if res.Event.ID < w.process.waiting.ID {
			t.Fatalf("A's comment %d before B's waiting %d: the case proves nothing", res.Event.ID, w.process.waiting.ID)
		}
		d := inboxtest.NewDelivery(appDB, in, res.Event)
		d.Domain = tickets
		jobCtx, cancel := context.WithTimeout(activity.WithTenant(context.Background(), tenantA), 15*time.Second)
		defer cancel()
		if err := in.Process(jobCtx, d); err != nil {
			t.Fatalf("A's comment on issue 1: %v (did it wait for B's issue 1?)", err)
		}
		msgs := w.slack.Messages()
		// (A's thread row was moved by the slack case above; B's is B's.)
		if last := msgs[len(msgs)-1]; last.ThreadTS == w.tenant[tenantB].thread.TS {
			t.Errorf("A's comment posted in B's thread %q", last.ThreadTS)
		}
	})

	// Projections: a retraction event of A's that names B's events (an
	// app filled its extra, or a wrong id) takes back none of them; A's
	// own retraction takes back A's.
	t.Run("projection", func(t *testing.T) {
		pw := w.process
		cover(pw.proj.Process)
		mine := a.events[0]
		if err := inboxtest.Process(t, appDB, pw.proj, mine); err != nil {
			t.Fatal(err)
		}
		bIDs := make([]int64, 0, len(w.tenant[tenantB].events))
		for _, e := range w.tenant[tenantB].events {
			bIDs = append(bIDs, e.ID)
		}
		forged := retraction(t, mine, append(bIDs, mine.ID))
		if err := inboxtest.Process(t, appDB, pw.proj, forged); err != nil {
			t.Fatal(err)
		}
		var stillApplied int64
		if err := testDB.Raw(`SELECT count(*) FROM projection_applied WHERE name = 'crosstenant_folds' AND event_id = ANY(?)`, pgarray.Int8(bIDs)).Scan(&stillApplied).Error; err != nil {
			t.Fatal(err)
		}
		if stillApplied != int64(len(bIDs)) {
			t.Errorf("after A's retraction naming them, %d of B's %d events are still marked applied; want all (B's retried jobs would fold them twice)", stillApplied, len(bIDs))
		}
		pw.folds.mu.Lock()
		defer pw.folds.mu.Unlock()
		if !slices.Equal(pw.folds.reverted, []int64{mine.ID}) {
			t.Errorf("A's retraction naming B's events %v and A's %d reverted %v; want A's only", bIDs, mine.ID, pw.folds.reverted)
		}
	})
}

// retraction is a "_retracted" event of ev's tenant whose extra names ids,
// as the worker would hand it to an inbox.
func retraction(t *testing.T, ev activity.Event, ids []int64) activity.Event {
	t.Helper()
	extra, err := json.Marshal(activity.RetractionExtra{Retracted: ids})
	if err != nil {
		t.Fatal(err)
	}
	r := ev
	r.ID = ev.ID + 1_000_000
	r.Action = "commented_retracted"
	r.Extra = extra
	return r
}
