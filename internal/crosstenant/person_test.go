package crosstenant_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
	"github.com/tidingsdev/tidings/privacy"
	"github.com/tidingsdev/tidings/workflow"
)

// testPerson calls, as tenant A (ctx), every person-level call on users:8
// and users:9, who are other people in B with the same keys: the reads
// (a person's events, values, notifications, preferences and delivery
// choices, an export, the privacy handler) return only A's rows, and the
// erasers change only A's (the suite's snapshot of B after it). It runs
// last: it erases A's users:8.
//
// The reads and the table owners' erasers run on appDB, held to the
// policies in the as-app-role run. privacy's Erase, EraseSettled and
// Reapply write the erasure log, the operator's table (see
// migrations.OperatorTables): they run as the operator (testDB), whom no
// policy holds, so only the library's filters keep them to A; in the
// tidings_rlsonly build, where those are compiled out, they are not run.
func testPerson(t *testing.T, w *world, ctx context.Context, held bool) {
	onlyA := func(what, tenant string) {
		t.Helper()
		if tenant != tenantA {
			t.Errorf("%s as A returned a row of tenant %q", what, tenant)
		}
	}
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{tickets}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"8", "9"} {
		p := activity.Person{Type: "users", ID: id}
		cover(tickets.PersonEvents, tickets.PersonValues, notify.EachOf, inbox.StoredChoices, inbox.StoredPreferences)
		var events int
		if err := tickets.PersonEvents(ctx, appDB, p, 2, func(role string, e activity.Event) error {
			events++
			onlyA("PersonEvents", e.TenantID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var wantEvents int
		if err := testDB.Raw(`SELECT count(*) FROM ticket_events WHERE tenant_id = ? AND actor_type = 'users' AND actor_id = ?`, tenantA, id).Scan(&wantEvents).Error; err != nil {
			t.Fatal(err)
		}
		if events < wantEvents {
			t.Errorf("PersonEvents(users:%s) as A = %d events, want at least A's %d acts", id, events, wantEvents)
		}
		if _, err := tickets.PersonValues(ctx, appDB, p); err != nil {
			t.Fatal(err)
		}
		var notes int
		if err := notify.EachOf(ctx, appDB, id, 2, func(n notify.Notification) error {
			notes++
			onlyA("notify.EachOf", n.Tenant)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if notes == 0 {
			t.Errorf("notify.EachOf(%s) as A found none of A's notifications", id)
		}
		choices, err := inbox.StoredChoices(ctx, appDB, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range choices {
			onlyA("inbox.StoredChoices", c.Tenant)
		}
		prefs, err := inbox.StoredPreferences(ctx, appDB, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prefs {
			onlyA("inbox.StoredPreferences", p.Tenant)
		}
		if id == "8" && len(prefs) == 0 {
			t.Errorf("inbox.StoredPreferences(8) as A found none of A's")
		}

		// The export, and the handler that serves it.
		cover(px.Export)
		var buf bytes.Buffer
		if err := px.Export(ctx, appDB, p, &buf); err != nil {
			t.Fatal(err)
		}
		exportOnlyA(t, "Export", buf.Bytes())
		h, err := privacy.NewHandler(privacy.HandlerConfig{Privacy: px, DB: appDB,
			Authorize: func(r *http.Request, action string) (activity.Person, string, error) { return p, "users:" + id, nil }})
		if err != nil {
			t.Fatal(err)
		}
		cover(h.ServeHTTP)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/me/data", nil).WithContext(ctx))
		if rec.Code != http.StatusOK {
			t.Fatalf("the privacy handler as A: %d %s", rec.Code, rec.Body)
		}
		exportOnlyA(t, "the privacy handler", rec.Body.Bytes())
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/me/data", nil).WithContext(context.Background()))
		if rec.Code != http.StatusForbidden {
			t.Errorf("the privacy handler without a tenant: %d, want 403", rec.Code)
		}
	}

	// The erasers of A's users:8, whose label "user 8" B's users:8 has
	// too, and whose phone number B's users:8 and users:9 have (labelled
	// with the label): B's rows stay as they were (the suite's snapshot).
	p := activity.Person{Type: "users", ID: "8"}.WithValues("user 8", sharedPhone)
	cover(tickets.Erase, inbox.ErasePerson, notify.ErasePerson, email.ErasePerson, batch.ErasePerson, slack.ErasePerson, webhook.ErasePerson, device.ErasePerson, workflow.ErasePerson)
	if _, err := tickets.Erase(ctx, appDB, p); err != nil {
		t.Fatal(err)
	}
	for name, erase := range map[string]func() (activity.Erased, error){
		"inbox":    func() (activity.Erased, error) { return inbox.ErasePerson(ctx, appDB, p) },
		"notify":   func() (activity.Erased, error) { return notify.ErasePerson(ctx, appDB, p) },
		"email":    func() (activity.Erased, error) { return email.ErasePerson(ctx, appDB, p) },
		"batch":    func() (activity.Erased, error) { return batch.ErasePerson(ctx, appDB, p) },
		"slack":    func() (activity.Erased, error) { return slack.ErasePerson(ctx, appDB, p, []string{"ticket"}) },
		"webhook":  func() (activity.Erased, error) { return webhook.ErasePerson(ctx, appDB, p) },
		"device":   func() (activity.Erased, error) { return device.ErasePerson(ctx, appDB, p) },
		"workflow": func() (activity.Erased, error) { return workflow.ErasePerson(ctx, appDB, p) },
	} {
		if _, err := erase(); err != nil {
			t.Errorf("%s.ErasePerson as A: %v", name, err)
		}
	}
	var left int64
	if err := testDB.Raw(`SELECT count(*) FROM notifications WHERE tenant_id = ? AND recipient = '8'`, tenantA).Scan(&left).Error; err != nil || left != 0 {
		t.Errorf("A's users:8 still has %d notifications (%v)", left, err)
	}
	var addrs int64
	if err := testDB.Raw(`SELECT count(*) FROM device_addresses WHERE tenant_id = ? AND (recipient = '8' OR address = ?)`, tenantA, sharedPhone).Scan(&addrs).Error; err != nil || addrs != 0 {
		t.Errorf("A still has %d addresses of users:8 or their phone (%v)", addrs, err)
	}
	cover(px.Erase, px.EraseSettled, px.Reapply)
	if held {
		operatorOnly(t, px, ctx, p)
	}
	if !tenantfilter.On {
		return // the operator's calls: only the library's filters hold them (see above)
	}
	if rec, err := px.Erase(ctx, testDB, p, privacy.Request{By: "crosstenant"}); err != nil || rec.Tenant != tenantA {
		t.Errorf("privacy Erase as A = %+v, %v; want A's erasure", rec, err)
	}
	// The relay enqueued A's events and no worker ran them: they stay in
	// flight, and EraseSettled says so after erasing twice.
	if _, err := px.EraseSettled(ctx, testDB, p, privacy.Request{By: "crosstenant"}, 10*time.Millisecond); err != nil && !errors.Is(err, privacy.ErrInFlight) {
		t.Error(err)
	}
	if n, err := px.Reapply(context.Background(), testDB, "crosstenant"); err != nil || n != 1 {
		t.Errorf("Reapply = %d, %v; want A's users:8 again", n, err)
	}
}

// operatorOnly calls privacy's erasure calls on appDB, the app's role held
// to row-level security, which hides the operator's tables: an erasure
// there would list no delivery in flight (inbox_pending has no row for
// it: EraseSettled would return at once, the jobs running across it free
// to copy the data again) and could not write its record. Each refuses
// with privacy.ErrNeedsOperator before any statement that writes, and no
// erasure is recorded.
func operatorOnly(t *testing.T, px *privacy.Privacy, ctx context.Context, p activity.Person) {
	t.Helper()
	records := func() int64 {
		var n int64
		if err := testDB.Raw(`SELECT count(*) FROM tidings_erasures`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := records()
	req := privacy.Request{By: "crosstenant"}
	for name, call := range map[string]func() error{
		"Erase":        func() error { _, err := px.Erase(ctx, appDB, p, req); return err },
		"EraseSettled": func() error { _, err := px.EraseSettled(ctx, appDB, p, req, time.Second); return err },
		"Reapply":      func() error { _, err := px.Reapply(ctx, appDB, "crosstenant"); return err },
		"Erasures":     func() error { _, err := privacy.Erasures(ctx, appDB, p.Ref()); return err },
	} {
		if err := call(); !errors.Is(err, privacy.ErrNeedsOperator) {
			t.Errorf("privacy %s as the app's role = %v; want privacy.ErrNeedsOperator", name, err)
		}
	}
	if after := records(); after != before {
		t.Errorf("%d erasure records written as the app's role", after-before)
	}
}

// exportOnlyA checks that every line of an export that belongs to a
// tenant is A's.
func exportOnlyA(t *testing.T, what string, b []byte) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for _, raw := range lines {
		var l struct {
			Type   string
			Person *struct {
				Tenant string `json:"tenant"`
			}
			Event *struct {
				TenantID string `json:"tenant_id"`
			}
			Notification, Preference, Delivery, Device *struct {
				Tenant string `json:"tenant"`
			}
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("%s: line %s: %v", what, raw, err)
		}
		switch {
		case l.Person != nil:
			if l.Person.Tenant != tenantA {
				t.Errorf("%s as A: person line of tenant %q", what, l.Person.Tenant)
			}
		case l.Event != nil:
			if l.Event.TenantID != tenantA {
				t.Errorf("%s as A: event of tenant %q", what, l.Event.TenantID)
			}
		case l.Notification != nil || l.Preference != nil || l.Delivery != nil || l.Device != nil:
			for _, x := range []*struct {
				Tenant string `json:"tenant"`
			}{l.Notification, l.Preference, l.Delivery, l.Device} {
				if x != nil && x.Tenant != tenantA {
					t.Errorf("%s as A: %s line of tenant %q", what, l.Type, x.Tenant)
				}
			}
		}
	}
	if len(lines) < 3 || !bytes.Contains(lines[len(lines)-1], []byte(`"type":"end"`)) {
		t.Errorf("%s as A: %d lines, no end line", what, len(lines))
	}
}
