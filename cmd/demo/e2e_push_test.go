package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/webpush"
	"github.com/tidingsdev/tidings/inbox/webpush/webpushtest"
)

// pushSpy replaces the browser's PushManager.subscribe before the page's
// scripts run. It calls the real one first and records what it was asked
// (the applicationServerKey) and how it ended: offline, Chromium cannot
// reach its push service (Google's FCM), so the real subscription fails
// (it never answers: the spy stops waiting after 5s). It then returns the subscription of the local
// push service (window.__pushSubscription, set by the test), so the page's
// own code (the center's client.js) posts it as it would a real one.
const pushSpy = `(() => {
  if (!('PushManager' in self)) return;
  const real = PushManager.prototype.subscribe;
  const b64 = (k) => typeof k === 'string' ? k : btoa(String.fromCharCode(...new Uint8Array(k.buffer || k))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  window.__push = { calls: [] };
  PushManager.prototype.getSubscription = async function () { return null; };
  PushManager.prototype.subscribe = async function (options) {
    const call = { key: b64(options.applicationServerKey), userVisibleOnly: options.userVisibleOnly };
    window.__push.calls.push(call);
    // Offline, the real one neither resolves nor rejects: it is given 5s.
    const bound = new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5s')), 5000));
    try { await Promise.race([real.call(this, options), bound]); call.real = 'subscribed'; } catch (e) { call.real = e.name + ': ' + e.message; }
    const sub = window.__pushSubscription;
    return { endpoint: sub.endpoint, toJSON: () => sub };
  };
})();`

// "Notify me on this browser" in headless Chromium: Ana opens her
// notifications; the page's button registers the center's service worker
// (scope /tidings/notifications/push/) and subscribes with the demo's
// VAPID key; the subscription lands in device_addresses for Ana in her
// organisation; Ben comments on her issue and the demo's web push inbox
// pushes it to the subscription's push service (webpushtest: node's crypto
// checks the VAPID token, npm's http_ece decrypts): a notification of
// Ben's comment that opens the issue.
//
// What the test cannot do offline: Chromium's own push service is
// Google's FCM, out of reach without a network, so the real
// pushManager.subscribe fails (the test logs how) and the page is given
// the local push service's subscription in its place (pushSpy); and no
// push service delivers to the browser, so the service worker's push
// handler is not run here.
func TestBrowserWebPush(t *testing.T) {
	b := newBrowser(t)
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	peer := webpushtest.Start(t, public)
	d := startDemo(t, func(c *Config) {
		c.VAPIDPublic, c.VAPIDPrivate, c.pushClient = public, private, peer.Client()
	})
	var ana, ben User
	if err := d.app.db.Where("name = ?", "Ana Lima").Take(&ana).Error; err != nil {
		t.Fatal(err)
	}
	if err := d.app.db.Where("name = ?", "Ben Okafor").Take(&ben).Error; err != nil {
		t.Fatal(err)
	}
	var issue Issue
	if err := d.app.db.Where("author_id = ? AND title LIKE 'Login fails%'", ana.ID).Take(&issue).Error; err != nil {
		t.Fatal(err)
	}
	sub := peer.Subscribe(t, fmt.Sprint(ana.ID), "chromium")

	// A tab of the default browser context, where notifications are
	// allowed for the demo's origin (headless Chromium denies the prompt).
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(dcancel)
	tb := &tab{t: t, name: "Ana", ctx: dctx}
	if _, err := chromedp.Call(dctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: d.url}); err != nil {
		t.Fatalf("grant notifications: %v", err)
	}
	if _, err := chromedp.Call(dctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: pushSpy}); err != nil {
		t.Fatal(err)
	}

	tb.switchUser(d.url, ana)
	tb.do("open notifications", chromedp.Navigate(d.url+"/notifications"), chromedp.WaitVisible(chromedp.CSS("#push-subscribe")))
	tb.waitJS("the push state", `document.getElementById('push').dataset.state === 'off'`)
	js, _ := json.Marshal(map[string]any{"endpoint": sub.Address, "expirationTime": nil, "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}})
	tb.do("hand the page the local push service's subscription", chromedp.Evaluate[chromedp.Void]("window.__pushSubscription = "+string(js)))
	tb.do("click: notify me on this browser", chromedp.Click(chromedp.CSS("#push-subscribe")))
	tb.waitJS("subscribed", `['subscribed', 'failed'].includes(document.getElementById('push').dataset.state)`)
	if st := tb.text("push state", `document.getElementById('push').dataset.state + ': ' + document.getElementById('push-state').textContent`); !strings.HasPrefix(st, "subscribed") {
		t.Fatalf("the page says %q", st)
	}

	// The browser registered the center's service worker, and asked its
	// push manager for a user-visible subscription with the demo's key.
	sw := awaitText(tb, "service worker", `navigator.serviceWorker.getRegistration('/tidings/notifications/push/').then(r => r ? r.scope + ' ' + (r.active || r.waiting || r.installing).scriptURL : 'none')`)
	if want := d.url + centerPrefix + "/push/ " + d.url + centerPrefix + "/push/sw.js"; sw != want {
		t.Errorf("service worker registration %q, want %q", sw, want)
	}
	var calls []struct {
		Key             string `json:"key"`
		UserVisibleOnly bool   `json:"userVisibleOnly"`
		Real            string `json:"real"`
	}
	raw := tb.text("subscribe calls", `JSON.stringify(window.__push.calls)`)
	if err := json.Unmarshal([]byte(raw), &calls); err != nil || len(calls) != 1 {
		t.Fatalf("pushManager.subscribe calls: %s (%v)", raw, err)
	}
	if calls[0].Key != public || !calls[0].UserVisibleOnly {
		t.Errorf("pushManager.subscribe got key %q userVisibleOnly %v, want the demo's VAPID key %q and true", calls[0].Key, calls[0].UserVisibleOnly, public)
	}
	t.Logf("Chromium's own pushManager.subscribe (offline): %s", calls[0].Real)

	// The page's POST stored it for Ana, in her organisation.
	var stored []device.Address
	if err := d.app.db.Raw(`SELECT tenant_id AS tenant, recipient, kind, address, p256dh, auth, label FROM device_addresses WHERE kind = 'webpush'`).Scan(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].Recipient != fmt.Sprint(ana.ID) || stored[0].Tenant != fmt.Sprint(ana.OrgID) ||
		stored[0].Address != sub.Address || stored[0].P256dh != sub.P256dh || stored[0].Auth != sub.Auth || !strings.Contains(stored[0].Label, "Chrom") {
		t.Fatalf("stored subscriptions %+v, want Ana's (%d, org %d) %s labelled by its browser", stored, ana.ID, ana.OrgID, sub.Address)
	}

	// Ben comments on Ana's issue: the web push inbox pushes it to her
	// subscription, signed with the demo's key, encrypted for her browser.
	const comment = "Reproduced on a push-enabled browser"
	form := url.Values{"body": {comment}}
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/issues/%d/comments", d.url, issue.ID), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: userCookie, Value: fmt.Sprint(ben.ID)})
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ben's comment: %d", res.StatusCode)
	}
	pushes, err := peer.WaitFor(time.Minute, func(ps []webpushtest.Push) bool { return len(ps) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	p := pushes[0]
	if p.Status != http.StatusCreated || p.Claims.Aud != peer.Origin || p.Claims.Sub != vapidSubject {
		t.Fatalf("the push service answered %d (%s), claims %+v", p.Status, p.Error, p.Claims)
	}
	var msg webpush.Message
	if err := json.Unmarshal([]byte(p.Text), &msg); err != nil || !strings.Contains(msg.Title, ben.Name) || msg.URL != fmt.Sprintf("/issues/%d", issue.ID) {
		t.Fatalf("decrypted push %q: %+v %v", p.Text, msg, err)
	}
}

// awaitText evaluates js, a promise of a string, and returns the string.
func awaitText(tb *tab, what, js string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
	return s
}
