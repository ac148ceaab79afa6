package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// In the browser, a person of each organisation walks every page and sees
// nothing of the other's issues, events, notifications or rules; picking
// a person of the other organisation in the switcher switches the
// organisation the pages show.
func TestBrowserOrganisations(t *testing.T) {
	d := startDemo(t)
	f := seedOrgs(t, d)
	b := newBrowser(t)
	shots := screenshotDir(t)
	// the page's text without the header's switcher (which lists everyone,
	// by organisation: it is how one switches)
	const pageText = `(() => { const c = document.body.cloneNode(true); c.querySelectorAll('form.switcher').forEach(e => e.remove()); return c.innerText; })()`
	walk := func(tb *tab, me User, own, other int64, ownMark string) {
		t.Helper()
		pages := []struct{ path, ready string }{
			{"/", "table.issues"},
			{"/?status=all", "table.issues"},
			{fmt.Sprintf("/issues/%d", f.issue[own]), "main"},
			{fmt.Sprintf("/projects/%d", f.project[own]), "main"},
			{eventsPrefix + "/", "#feed-list"},
			{fmt.Sprintf("%s/issue/%d", eventsPrefix, f.event[own]), "main"},
			{"/notifications", "#notifications"},
			{prefsPrefix + "/", "body"},
			{rulesPrefix, "main"},
			{fmt.Sprintf(rulesPrefix+"/%d", f.rule[own]), "main"},
			{opsPrefix, "main"},
			{"/history", "main"},
			{"/dev/mail", "main"},
			{"/dev/slack", "main"},
			{"/dev/channels", "main"},
			{personDataPath, "main"},
		}
		for _, p := range pages {
			tb.do(me.Name+" opens "+p.path, chromedp.Navigate(d.url+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
			text := tb.text(p.path+": text", pageText)
			for _, m := range f.marks[other] {
				if strings.Contains(text, m) {
					t.Errorf("%s sees %q of the other organisation on %s\n%s", me.Name, m, p.path, grep(text, m))
				}
			}
			if p.path == "/" || p.path == eventsPrefix+"/" {
				if !strings.Contains(text, ownMark) {
					t.Errorf("%s's %s lacks their organisation's %q", me.Name, p.path, ownMark)
				}
			}
		}
		tb.do(me.Name+" opens the notifications", chromedp.Navigate(d.url+"/notifications"), chromedp.WaitVisible(chromedp.CSS("#notifications")))
		if n := tb.eval("notification rows", `document.querySelectorAll('#notifications li.notification').length`); n == float64(0) {
			t.Errorf("%s has no notifications on the page; want their organisation's", me.Name)
		}
		tb.shot(fmt.Sprintf("org-%d-notifications.png", own))
		// The other organisation's issue, event and rule by URL: not found.
		for _, p := range []string{fmt.Sprintf("/issues/%d", f.issue[other]), fmt.Sprintf("%s/issue/%d", eventsPrefix, f.event[other]), fmt.Sprintf(rulesPrefix+"/%d", f.rule[other])} {
			tb.do(me.Name+" opens "+p, chromedp.Navigate(d.url+p), chromedp.WaitReady(chromedp.CSS("body")))
			text := tb.text(p+": text", pageText)
			for _, m := range f.marks[other] {
				if strings.Contains(text, m) {
					t.Errorf("%s sees %q of the other organisation at %s", me.Name, m, p)
				}
			}
		}
	}
	ana := b.newTab(t, "ana", shots, 150*time.Second)
	ana.switchUser(d.url, f.ana)
	walk(ana, f.ana, f.acme.ID, f.globex.ID, "Login fails on Safari")
	ana.shot("org-acme-issues.png")
	hiro := b.newTab(t, "hiro", shots, 150*time.Second)
	hiro.switchUser(d.url, f.hiro)
	walk(hiro, f.hiro, f.globex.ID, f.acme.ID, "Globex: invoices double-charged")

	// Switching user switches organisation: Ana's tab, now acting as Hiro,
	// shows Globex's issues and none of Acme's.
	ana.switchUser(d.url, f.hiro)
	text := ana.text("issues after switching", pageText)
	if !strings.Contains(text, "Globex: invoices double-charged") || strings.Contains(text, "Login fails on Safari") {
		t.Errorf("after switching to Hiro the issues list reads:\n%.1500s", text)
	}
	ana.shot("org-switched-to-globex.png")
}
