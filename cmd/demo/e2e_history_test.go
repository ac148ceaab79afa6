package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The history pages in a browser: replay the history into the archive
// inbox and watch it finish; read the event catalog; import comments from
// CSV (markup in them stays text) and retract the import, after which the
// feeds hide its events and the Imports page lists what was delivered;
// subscribe the local receiver to the domain's events (a private address
// is refused) and see a signed CloudEvent arrive after a comment.
func TestBrowserHistory(t *testing.T) {
	b := newBrowser(t)
	d := startDemo(t)
	tb := b.newTab(t, "ana", screenshotDir(t), 3*time.Minute)
	var users []User
	if err := d.app.db.Order("id").Find(&users).Error; err != nil || len(users) == 0 {
		t.Fatalf("users: %v", err)
	}
	var issue Issue
	if err := d.app.db.Order("id").First(&issue).Error; err != nil {
		t.Fatal(err)
	}
	tb.switchUser(d.url, users[0])

	// Replay into the archive.
	tb.do("history", chromedp.Navigate(d.url+"/history"), chromedp.WaitVisible(chromedp.CSS("#replay")))
	if got := tb.text("archived", `document.querySelector('#archived').innerText`); got != "0" {
		t.Errorf("the archive holds %s events before any replay", got)
	}
	tb.navigate("replay", chromedp.Click(chromedp.CSS("#replay")))
	deadline := time.Now().Add(time.Minute)
	for {
		var status string
		d.app.db.Raw(`SELECT status FROM inbox_backfills ORDER BY id DESC LIMIT 1`).Scan(&status)
		var archived, events int64
		d.app.db.Raw(`SELECT count(*) FROM event_archive`).Scan(&archived)
		d.app.db.Raw(`SELECT count(*) FROM issue_events WHERE retracted_at IS NULL`).Scan(&events)
		if status == "done" && archived >= events && events > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill %s, %d of %d archived", status, archived, events)
		}
		time.Sleep(20 * time.Millisecond) // polling the worker's progress in the database
	}
	tb.do("history after the replay", chromedp.Navigate(d.url+"/history"), chromedp.WaitVisible(chromedp.CSS("#backfills")))
	if s := tb.text("backfill row", `document.querySelector('#backfills tbody tr').innerText`); !strings.Contains(s, "done") || !strings.Contains(s, "archive") {
		t.Errorf("backfill row: %q", s)
	}

	// The catalog.
	tb.do("catalog", chromedp.Navigate(d.url+"/history/catalog"), chromedp.WaitVisible(chromedp.CSS("#action-comment_added")))
	if s := tb.text("catalog row", `document.querySelector('#action-comment_added').innerText`); !strings.Contains(s, "length integer") {
		t.Errorf("catalog row: %q", s)
	}

	// A CSV import, then its retraction.
	tb.do("imports", chromedp.Navigate(d.url+"/history/imports"), chromedp.WaitVisible(chromedp.CSS("#import-form")))
	csv := fmt.Sprintf("%d,Imported one\n%d,\"%s\"\n", issue.ID, issue.ID, strings.ReplaceAll(scriptPayload, `"`, `""`))
	tb.do("fill the import", chromedp.SetValue(chromedp.CSS(`#import-form input[name=name]`), "batch "+imgPayload), chromedp.SetValue(chromedp.CSS(`#import-form textarea`), csv))
	tb.submit("import", "#import-form")
	tb.noMarkup("imports", "batch "+imgPayload)
	issueURL := fmt.Sprintf("%s/issues/%d", d.url, issue.ID)
	tb.do("issue with imported comments", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	tb.noMarkup("issue", scriptPayload, "Imported one")
	tb.do("imports again", chromedp.Navigate(d.url+"/history/imports"), chromedp.WaitVisible(chromedp.CSS("#imports form")))
	tb.do("reason", chromedp.SetValue(chromedp.CSS(`#imports form input[name=reason]`), "wrong issue"))
	tb.submit("retract", "#imports form")
	tb.do("retracted", chromedp.WaitVisible(chromedp.CSS("#delivered")))
	if s := tb.text("import row", `document.querySelector('#imports tbody tr').innerText`); !strings.Contains(s, "retracted") || !strings.Contains(s, "wrong issue") {
		t.Errorf("import row: %q", s)
	}
	tb.do("issue after the retraction", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	if s := tb.text("issue", `document.body.innerText`); strings.Contains(s, "Imported one") {
		t.Errorf("the issue page still shows a retracted import's comment")
	}

	// Webhooks: a private target is refused; the local receiver gets a
	// signed CloudEvent.
	tb.do("webhooks", chromedp.Navigate(d.url+"/history/webhooks"), chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	tb.do("private URL", chromedp.SetValue(chromedp.CSS(`#webhook-form input[name=url]`), "https://169.254.169.254/latest/meta-data"))
	tb.submit("subscribe a private URL", "#webhook-form")
	if s := tb.text("refusal", `(document.querySelector('#webhook-error')||{}).innerText||''`); !strings.Contains(s, "link-local") {
		t.Errorf("private target: %q", s)
	}
	tb.submit("subscribe the receiver", "#webhook-form")
	if s := tb.text("subscriptions", `document.querySelector('#subscriptions tbody').innerText`); !strings.Contains(s, d.app.hist.receiver.url()) {
		t.Fatalf("subscriptions: %q", s)
	}
	tb.do("open the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SetValue(chromedp.CSS("#comment-form textarea"), "hooked"))
	tb.submit("comment", "#comment-form")
	deadline = time.Now().Add(time.Minute)
	for len(d.app.hist.receiver.list()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the receiver got nothing")
		}
		time.Sleep(20 * time.Millisecond) // polling the in-process receiver
	}
	tb.do("webhooks after the comment", chromedp.Navigate(d.url+"/history/webhooks"), chromedp.WaitVisible(chromedp.CSS("#received")))
	if s := tb.text("received", `document.querySelector('#received tbody tr').innerText`); !strings.Contains(s, "issue.comment_added") || !strings.Contains(s, "valid") || strings.Contains(s, "INVALID") {
		t.Errorf("received: %q", s)
	}
	if dl := tb.Dialogs(); len(dl) > 0 {
		t.Errorf("dialogs opened: %v", dl)
	}
}
