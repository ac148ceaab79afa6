package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// In a real browser, Ben opens his data page from the header, downloads
// his export (the page's link, fetched with his cookies), erases his data,
// and the page says so; his events stay, by an erased person.
func TestBrowserPersonData(t *testing.T) {
	b := newBrowser(t)
	d := startDemo(t)
	shots := screenshotDir(t)
	var ben User
	if err := d.app.db.Where("email = 'ben@example.com'").Take(&ben).Error; err != nil {
		t.Fatal(err)
	}
	var before int64
	d.app.db.Raw(`SELECT count(*) FROM issue_events WHERE actor_id = ?`, fmt.Sprint(ben.ID)).Scan(&before)
	if before == 0 {
		t.Fatal("the seed has no events by Ben")
	}

	tb := b.newTab(t, "ben", shots, 2*time.Minute)
	tb.switchUser(d.url, ben)
	tb.navigate("open the data page", chromedp.Click(chromedp.CSS("#your-data-link")))
	tb.do("see the export link", chromedp.WaitVisible(chromedp.CSS("#export-link")))
	tb.shot("persondata.png")
	got := tb.text("fetch the export", `(() => {
  const x = new XMLHttpRequest();
  x.open('GET', document.querySelector('#export-link').href, false);
  x.send();
  const lines = x.responseText.trim().split('\n');
  return x.status + ' ' + x.getResponseHeader('Content-Type') + ' ' + lines.length + ' ' + JSON.parse(lines[lines.length - 1]).type;
})()`)
	if f := strings.Fields(got); len(f) != 4 || f[0] != "200" || f[1] != "application/x-ndjson" || f[3] != "end" {
		t.Fatalf("export as fetched by the page: %q", got)
	}

	tb.submit("erase", "#erase-form")
	tb.do("see the erasure", chromedp.WaitVisible(chromedp.CSS("#erased-notice")), chromedp.WaitVisible(chromedp.CSS("#erasures li")))
	tb.shot("persondata-erased.png")
	var after, named int64
	d.app.db.Raw(`SELECT count(*) FROM issue_events WHERE actor_id = ?`, fmt.Sprint(ben.ID)).Scan(&after)
	d.app.db.Raw(`SELECT count(*) FROM issue_events WHERE actor_label = 'Ben Okafor' OR record_label = 'Ben Okafor'`).Scan(&named)
	if after != before || named != 0 {
		t.Fatalf("Ben's events %d -> %d (want kept), %d still naming him", before, after, named)
	}
	if ds := tb.Dialogs(); len(ds) > 0 {
		t.Errorf("dialogs opened: %v", ds)
	}
}
