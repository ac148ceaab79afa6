package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// Every action people are told about has a title and a line in every
// locale the demo declares, and a digest subject.
func TestEveryActionInEveryLocale(t *testing.T) {
	cat, err := newCatalog()
	if err != nil {
		t.Fatal(err)
	}
	keys := append(locale.Keys("issue", messageActions, locale.PartTitle, locale.PartLine), locale.DigestSubject)
	if missing := cat.Missing(keys...); len(missing) > 0 {
		t.Fatalf("messages missing: %v", missing)
	}
	d, err := newIssueDomain(activity.DomainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range feedActions(d) {
		if !slices.Contains(messageActions, a) {
			t.Errorf("action %s is told about but not in messageActions: word it in every locale", a)
		}
	}
}

// A burst of 30 comments on Chloé's issue: she reads German and chose a
// daily digest at 08:00 Berlin time, so she sees one collapsed German row
// in the app and gets one German mail listing all 30 at 08:00 her time
// (the morning the clocks went forward); #issues-digest gets one Slack
// message for the window.
func TestBurstForTheGermanReader(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_demo_batch")
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	clk := &clock{t: time.Date(2026, 3, 28, 18, 0, 0, 0, time.UTC)} // 19:00 in Berlin, winter time
	app, err := NewApp(ctx, Config{DSN: pgtest.DSN("tidings_test_demo_batch"), RedisAddr: redistest.Addr(), RedisDB: 6,
		BaseURL: "http://127.0.0.1:1", StaleEvery: time.Hour, Now: clk.Now, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var chloe, ana, ben User
	for name, u := range map[string]*User{"Chloé Martin": &chloe, "Ana Lima": &ana, "Ben Okafor": &ben} {
		if err := app.db.Where("name = ?", name).Take(u).Error; err != nil {
			t.Fatal(err)
		}
	}
	var dark Issue
	if err := app.db.Where("title LIKE 'Dark mode%'").Take(&dark).Error; err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	do := func(method, path string, who User, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: userCookie, Value: strconv.FormatInt(who.ID, 10)})
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// The seed gave Chloé daily digests; her preference page shows it.
	if code, body := do("GET", prefsPrefix+"/", chloe, nil); code != 200 || !strings.Contains(body, `<option value="daily@08:00" selected>Daily digest at 08:00</option>`) {
		t.Fatalf("Chloé's preference page: %d\n%s", code, body)
	}
	for i := range 30 {
		who := []User{ana, ben}[i%2]
		if code, body := do("POST", fmt.Sprintf("/issues/%d/comments", dark.ID), who, url.Values{"body": {fmt.Sprintf("Idea %d for dark mode", i)}}); code != http.StatusSeeOther {
			t.Fatalf("comment %d: %d %s", i, code, body)
		}
		clk.Add(10 * time.Second)
	}
	page, err := app.issues.Feed(activity.WithTenant(ctx, dark.OrgID), app.db, activity.FeedQuery{Subject: dark.ID, Actions: []string{ActionCommentAdded}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	evs := page.Events()
	if len(evs) != 30 {
		t.Fatalf("%d comment events, want 30", len(evs))
	}
	slices.Reverse(evs) // oldest first, as they were delivered
	for _, ev := range evs {
		if err := inboxtest.Process(t, app.db, app.client.InApp(), ev); err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, app.db, app.fan.mail, ev); err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, app.db, app.fan.slackDigest, ev); err != nil {
			t.Fatal(err)
		}
	}

	// In the app: one row, in German, in Chloé's organisation (the batch
	// step keeps the event's tenant on the collapsed row).
	var untenanted int64
	if err := app.db.Table("notifications").Where("recipient = ? AND tenant_id IS NULL", fmt.Sprint(chloe.ID)).Count(&untenanted).Error; err != nil {
		t.Fatal(err)
	}
	if untenanted != 0 {
		t.Errorf("Chloé has %d notifications stored without a tenant", untenanted)
	}
	_, body := do("GET", "/notifications", chloe, nil)
	if n := strings.Count(body, `class="notification unread action-comment_added"`); n != 1 {
		t.Errorf("Chloé has %d comment rows, want 1 collapsed:\n%s", n, body)
	}
	if want := fmt.Sprintf("Ben Okafor und 1 weitere haben #%d kommentiert", dark.ID); !strings.Contains(body, want) {
		t.Errorf("Chloé's row does not read %q:\n%s", want, body)
	}

	// By mail: nothing before 08:00 Berlin (06:00 UTC, summer time), then
	// one German digest of 30.
	due := time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC)
	before := len(app.fan.devSMTP.Messages())
	for _, m := range app.fan.devSMTP.Messages() {
		if slices.Contains(m.To, chloe.Email) {
			t.Fatalf("Chloé was mailed at once: %q", m.Subject)
		}
	}
	if res, err := app.fan.mail.Flush(ctx, due.Add(-time.Minute)); err != nil || res.Sent != 0 {
		t.Fatalf("flush before 08:00 Berlin: %+v %v", res, err)
	}
	if res, err := app.fan.mail.Flush(ctx, due); err != nil || res.Sent != 1 {
		t.Fatalf("flush at 08:00 Berlin: %+v %v", res, err)
	}
	msgs, err := app.fan.devSMTP.WaitFor(before+1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	digest := msgs[len(msgs)-1]
	if !slices.Contains(digest.To, chloe.Email) || digest.Subject != "30 Neuigkeiten zu deinen Issues" || !strings.HasPrefix(digest.Text, "Hallo Chloé Martin") {
		t.Fatalf("the digest to %v reads %q:\n%s", digest.To, digest.Subject, digest.Text)
	}
	if n := strings.Count(digest.Text, fmt.Sprintf("hat #%d kommentiert (28.03.2026", dark.ID)); n != 30 {
		t.Errorf("the digest lists %d German items with Berlin dates, want 30:\n%s", n, digest.Text)
	}

	// Slack: one message for the window in #issues-digest.
	if res, err := app.fan.slackDigest.Flush(ctx, clk.Now().Add(5*time.Minute)); err != nil || res.Sent != 1 {
		t.Fatalf("slack digest flush: %+v %v", res, err)
	}
	var digests int
	for _, m := range app.fan.devSlack.Messages() {
		if strings.Count(m.Text, "commented on #") == 30 {
			digests++
		}
	}
	if digests != 1 {
		t.Errorf("%d Slack messages list the 30 comments, want 1", digests)
	}
}
