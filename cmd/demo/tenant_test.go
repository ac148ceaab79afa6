package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// orgFixture is the seed's two organisations, a person of each, and the
// things of each that must never show in the other.
type orgFixture struct {
	acme, globex Organisation
	ana, hiro    User
	// an issue, a project, an event, a notification and a rule of each
	issue, project, event, notification, rule map[int64]int64
	// words that only the organisation's pages may show
	marks map[int64][]string
}

// seedOrgs finds the seed's organisations and gives each a rule, and waits
// until the seed's events reached a person of each as notifications.
func seedOrgs(t *testing.T, d *demo) *orgFixture {
	t.Helper()
	ctx := context.Background()
	db := d.app.db
	f := &orgFixture{issue: map[int64]int64{}, project: map[int64]int64{}, event: map[int64]int64{}, notification: map[int64]int64{},
		rule: map[int64]int64{}, marks: map[int64][]string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Take(&f.acme, "name = ?", "Acme").Error)
	must(db.Take(&f.globex, "name = ?", "Globex").Error)
	must(db.Take(&f.ana, "email = ?", "ana@example.com").Error)
	must(db.Take(&f.hiro, "email = ?", "hiro@globex.example").Error)
	f.marks[f.acme.ID] = []string{"Login fails on Safari", "Push notifications arrive twice", "Ana Lima", "Ben Okafor", "Dev Patel", "Acme: thank commenters"}
	f.marks[f.globex.ID] = []string{"Globex", "Greta Holm", "Hiro Tanaka"}
	for _, o := range []Organisation{f.acme, f.globex} {
		var is Issue
		must(db.Where("org_id = ?", o.ID).Order("id").Take(&is).Error)
		f.issue[o.ID], f.project[o.ID] = is.ID, is.ProjectID
		var ev int64
		must(db.Table("issue_events").Select("id").Where("tenant_id = ?", o.ID).Order("id").Limit(1).Scan(&ev).Error)
		f.event[o.ID] = ev
		name := "Acme: thank commenters"
		if o.ID == f.globex.ID {
			name = "Globex: escalate billing"
		}
		r, err := d.app.client.Rules().Create(activity.WithTenant(ctx, o.ID), "app:test", workflow.Rule{
			Name: name, Domain: "issue", TriggeredOn: ActionLabelAdded, Enabled: true,
			Actions: []workflow.RuleAction{workflow.Do(actionReply, workflow.Params{"message": name})},
		})
		must(err)
		f.rule[o.ID] = r.ID
	}
	// The seed's events reach their subscribers: Ana (Acme) and Hiro
	// (Globex) each get notifications of their own organisation only.
	for _, u := range []User{f.ana, f.hiro} {
		deadline := time.After(30 * time.Second)
		for {
			changed := d.app.live.wait() // a delivery done after this look
			var id int64
			must(db.Table("notifications").Select("id").Where("recipient = ?", fmt.Sprint(u.ID)).Order("id").Limit(1).Scan(&id).Error)
			if id != 0 {
				f.notification[u.OrgID] = id
				break
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("no notification for %s after 30s", u.Name)
			}
		}
	}
	return f
}

// switcherRE matches the header's user switcher, which lists everyone by
// organisation (picking a person switches organisation): the only place a
// page may name the other organisation's people.
var switcherRE = regexp.MustCompile(`(?s)<form class="switcher".*?</form>`)

// Nothing of one organisation shows on any page of the other: the issues
// list and pages, the feeds, the event browser, notifications (the page
// and the center's API), preferences, rules, queues, history, the dev
// mailbox and Slack, the person page; and asking for the other's issue,
// project, person, event, notification or rule by id is a 404.
func TestOrganisationsSeeNothingOfEachOther(t *testing.T) {
	d := startDemo(t)
	f := seedOrgs(t, d)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(as User, method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, d.url+path, strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: userCookie, Value: fmt.Sprint(as.ID)})
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, switcherRE.ReplaceAllString(string(b), "")
	}
	for _, c := range []struct {
		me         User
		own, other int64
		ownMark    string
	}{
		{me: f.ana, own: f.acme.ID, other: f.globex.ID, ownMark: "Login fails on Safari"},
		{me: f.hiro, own: f.globex.ID, other: f.acme.ID, ownMark: "Globex: invoices double-charged"},
	} {
		t.Run(c.me.Name, func(t *testing.T) {
			pages := []string{"/", "/?status=all", "/?status=closed",
				fmt.Sprintf("/issues/%d", f.issue[c.own]), fmt.Sprintf("/issues/%d/feed", f.issue[c.own]),
				fmt.Sprintf("/projects/%d", f.project[c.own]), fmt.Sprintf("/users/%d", c.me.ID),
				eventsPrefix + "/", eventsPrefix + "/?domain=issue", eventsPrefix + "/?domain=issue&subject=" + fmt.Sprint(f.issue[c.other]),
				fmt.Sprintf("%s/issue/%d", eventsPrefix, f.event[c.own]),
				"/notifications", "/notifications?archived=1", centerPrefix + "/", centerPrefix + "/counts",
				prefsPrefix + "/", rulesPrefix, rulesPrefix + "/new", fmt.Sprintf(rulesPrefix+"/%d", f.rule[c.own]),
				opsPrefix, "/history", "/dev/mail", "/dev/slack", "/dev/channels", personDataPath,
			}
			sawOwn := map[string]bool{}
			for _, p := range pages {
				code, body := get(c.me, "GET", p)
				if code != http.StatusOK {
					t.Errorf("GET %s: %d, want 200\n%.300s", p, code, body)
					continue
				}
				for _, m := range f.marks[c.other] {
					if strings.Contains(body, m) {
						t.Errorf("GET %s as %s shows %q of the other organisation\n%s", p, c.me.Name, m, grep(body, m))
					}
				}
				sawOwn[p] = strings.Contains(body, c.ownMark)
			}
			// The pages do show the organisation's own things (the checks
			// above are not passing on empty pages).
			for _, p := range []string{"/", fmt.Sprintf("/issues/%d", f.issue[c.own]), eventsPrefix + "/?domain=issue"} {
				if !sawOwn[p] {
					t.Errorf("GET %s as %s lacks its own organisation's %q", p, c.me.Name, c.ownMark)
				}
			}
			if _, body := get(c.me, "GET", rulesPrefix); !strings.Contains(body, map[bool]string{true: "Acme: thank commenters", false: "Globex: escalate billing"}[c.own == f.acme.ID]) {
				t.Errorf("/rules as %s lacks the organisation's own rule", c.me.Name)
			}
			if _, body := get(c.me, "GET", centerPrefix+"/"); !strings.Contains(body, fmt.Sprintf(`"id":%d`, f.notification[c.own])) && !strings.Contains(body, fmt.Sprintf(`"id": %d`, f.notification[c.own])) {
				t.Errorf("the notification center as %s lacks their notification %d\n%.500s", c.me.Name, f.notification[c.own], body)
			}
			// The other organisation's things by id: not found.
			var other User
			if err := d.app.db.Where("org_id = ?", c.other).Order("id").Take(&other).Error; err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{
				fmt.Sprintf("/issues/%d", f.issue[c.other]), fmt.Sprintf("/issues/%d/feed", f.issue[c.other]),
				fmt.Sprintf("/projects/%d", f.project[c.other]), fmt.Sprintf("/users/%d", other.ID),
				fmt.Sprintf("%s/issue/%d", eventsPrefix, f.event[c.other]),
				fmt.Sprintf("%s/%d", centerPrefix, f.notification[c.other]),
				fmt.Sprintf(rulesPrefix+"/%d", f.rule[c.other]), fmt.Sprintf(rulesPrefix+"/%d/edit", f.rule[c.other]),
			} {
				if code, body := get(c.me, "GET", p); code != http.StatusNotFound {
					t.Errorf("GET %s (the other organisation's) as %s: %d, want 404\n%.300s", p, c.me.Name, code, body)
				}
			}
			// ... and changing them too.
			for _, p := range []string{
				fmt.Sprintf("/issues/%d/comments?body=%s", f.issue[c.other], url.QueryEscape("sneaky")),
				fmt.Sprintf("/issues/%d/status?status=closed", f.issue[c.other]),
				fmt.Sprintf("/issues/%d/delete", f.issue[c.other]),
				fmt.Sprintf(rulesPrefix+"/%d/toggle", f.rule[c.other]), fmt.Sprintf(rulesPrefix+"/%d/delete", f.rule[c.other]),
				fmt.Sprintf("%s/%d/read", centerPrefix, f.notification[c.other]),
				fmt.Sprintf(opsPrefix+"/run?queue=default&id=%s:issue:%d", inboxNotify, f.event[c.other]),
				fmt.Sprintf(opsPrefix+"/redrive?inbox=%s&domain=issue&event=%d", inboxNotify, f.event[c.other]),
			} {
				if code, body := get(c.me, "POST", p); code != http.StatusNotFound {
					t.Errorf("POST %s (the other organisation's) as %s: %d, want 404\n%.300s", p, c.me.Name, code, body)
				}
			}
		})
	}
	var n int64
	d.app.db.Table("comments").Where("body = 'sneaky'").Count(&n)
	var closed, rules int64
	d.app.db.Table("issues").Where("id IN ? AND status = ?", []int64{f.issue[f.acme.ID], f.issue[f.globex.ID]}, StatusClosed).Count(&closed)
	d.app.db.Table("workflow_rules").Where("id IN ? AND enabled", []int64{f.rule[f.acme.ID], f.rule[f.globex.ID]}).Count(&rules)
	if n != 0 || closed != 0 || rules != 2 {
		t.Errorf("cross-organisation writes changed rows: %d comments, %d issues closed, %d of 2 rules still enabled", n, closed, rules)
	}
}
