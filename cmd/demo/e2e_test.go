package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/workflow"
)

// Payloads that must show as text on every page, never run or render.
const (
	scriptPayload = `<script>alert(1)</script> is it escaped?`
	imgPayload    = `<img src=x onerror=alert(1)>`
)

// demo is the demo app serving on a loopback port, with its own database
// (tidings_test_demo) and Redis database 6.
type demo struct {
	app *App
	url string
}

func startDemo(t *testing.T, opts ...func(*Config)) *demo {
	t.Helper()
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_demo")
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	if _, err := redistest.Flush(ctx, 6); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		BaseURL:      "http://" + ln.Addr().String(),
		DSN:          pgtest.DSN("tidings_test_demo"),
		RedisAddr:    redistest.Addr(),
		RedisDB:      6,
		Addr:         "127.0.0.1:0",
		FeedPageSize: 5,
		StaleEvery:   time.Hour,
		Log:          testLog(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	app, err := NewApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.Handler()}}
	srv.Start()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		srv.Close()
		app.Close()
	})
	return &demo{app: app, url: srv.URL}
}

// findChromium returns the browser to drive: TIDINGS_CHROMIUM, or chromium
// (or Chrome) on the PATH or at its Debian path.
func findChromium() string {
	if p := os.Getenv("TIDINGS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/lib/chromium/chromium", "/opt/google/chrome/chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// browser is a headless Chromium.
type browser struct {
	ctx context.Context // the first tab's context, which owns the browser
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := findChromium()
	if path == "" {
		t.Skip("chromium not found: install it (apt-get install -y chromium; .ci/run does) or set TIDINGS_CHROMIUM to its path")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser on a context without a deadline: the first run's
	// context owns the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return &browser{ctx: ctx}
}

// tab is one tab in a browser context of its own (its own cookies, so two
// tabs can act as two users), run under a deadline. It records every
// JavaScript dialog (an alert from an injected script would open one) and
// dismisses it.
type tab struct {
	t     *testing.T
	name  string
	ctx   context.Context
	shots string

	mu      sync.Mutex
	dialogs []string
}

func (b *browser) newTab(t *testing.T, name, shots string, deadline time.Duration) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // open the tab without a deadline
		t.Fatalf("open tab %s: %v", name, err)
	}
	tb := &tab{t: t, name: name, shots: shots}
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s: %q", ev.Type, ev.Message))
			tb.mu.Unlock()
			chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	dctx, dcancel := context.WithTimeout(ctx, deadline)
	t.Cleanup(dcancel)
	tb.ctx = dctx
	return tb
}

func (tb *tab) Dialogs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// navigate runs steps that load a page (a click, a form submission) and
// waits until it has loaded.
func (tb *tab) navigate(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if _, err := chromedp.RunResponse(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

func (tb *tab) submit(what, sel string) {
	tb.t.Helper()
	tb.navigate(what, chromedp.Submit(chromedp.CSS(sel)))
}

func (tb *tab) eval(what, js string) any {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
	return v
}

func (tb *tab) text(what, js string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
	return s
}

// waitJS waits, without sleeping, until the JavaScript predicate holds:
// it is evaluated on every DOM mutation.
func (tb *tab) waitJS(what, predicate string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0))); err != nil {
		tb.t.Fatalf("%s: waiting for %s (%s): %v", tb.name, what, predicate, err)
	}
}

func (tb *tab) shot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(tb.shots, name), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// noMarkup checks that the page shows the payloads as text and that none
// became an element.
func (tb *tab) noMarkup(page string, want ...string) {
	tb.t.Helper()
	body := tb.text(page+": body text", `document.body.innerText`)
	for _, w := range want {
		if !strings.Contains(body, w) {
			tb.t.Errorf("%s: the page text lacks %q", page, w)
		}
	}
	if n := tb.eval(page+": injected elements", `document.querySelectorAll('img, iframe, object, embed, main script, body > script:not([src])').length`); n != float64(0) {
		tb.t.Errorf("%s: %v injected img/iframe/script elements in the DOM", page, n)
	}
}

// switchUser acts as u from now on, through the header's user switcher.
func (tb *tab) switchUser(base string, u User) {
	tb.t.Helper()
	tb.do("open the issues list", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("table.issues")))
	// Picking a user submits the switcher (app.js, on change; SetValue
	// fires change).
	tb.navigate("switch to "+u.Name, chromedp.SetValue(chromedp.CSS("#user-switcher"), fmt.Sprint(u.ID)))
	tb.do("see "+u.Name+" selected", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#user-switcher option[value="%d"][selected]`, u.ID))))
}

// screenshotDir is where the test saves its screenshots: TIDINGS_SCREENSHOTS,
// or a new temporary folder that outlives the test.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("TIDINGS_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "tidings-demo-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// People use the demo in a real browser. Ana watches her notifications
// while Ben, in another browser context, comments on her issue and labels
// it (with markup in both); the feed shows both, Ana's inbox gets them live
// and she marks them read; the dev mailbox and dev Slack show what went
// out; the event browser leads to the event's permalink. Markup shows as
// text on every page and no script runs.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	d := startDemo(t)
	shots := screenshotDir(t)
	t.Logf("screenshots: %s", shots)
	fmt.Fprintf(os.Stderr, "demo e2e screenshots in %s\n", shots)

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
	issueURL := fmt.Sprintf("%s/issues/%d", d.url, issue.ID)

	// Ana opens her notifications and keeps the page open.
	anaTab := b.newTab(t, "Ana", shots, 2*time.Minute)
	anaTab.switchUser(d.url, ana)
	anaTab.do("open notifications", chromedp.Navigate(d.url+"/notifications"), chromedp.WaitVisible(chromedp.CSS("#notifications ol")))
	// The stream is connected once the badge shows the list's count.
	anaTab.waitJS("the live badge", `document.querySelector('#unread-badge').textContent === document.querySelector('#notifications ol').dataset.unread`)

	// Ben comments on Ana's issue, then labels it.
	benTab := b.newTab(t, "Ben", shots, 2*time.Minute)
	benTab.switchUser(d.url, ben)
	benTab.do("open the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#comment-form textarea"), scriptPayload))
	benTab.submit("comment", "#comment-form textarea")
	benTab.do("see the comment", chromedp.WaitVisible(chromedp.CSS("#comments > li.comment:nth-child(4)")))
	comments := benTab.text("comments", `[...document.querySelectorAll('#comments .comment-body')].map(e => e.textContent).join('\n')`)
	if !strings.Contains(comments, scriptPayload) {
		t.Fatalf("comments %q lack the new comment %q", comments, scriptPayload)
	}
	benTab.do("type a label", chromedp.SendKeys(chromedp.CSS(`#label-form input[name="name"]`), imgPayload))
	benTab.submit("add the label", `#label-form input[name="name"]`)
	benTab.do("see the label", chromedp.WaitVisible(chromedp.CSS("#labels > li:nth-child(3)")))
	labels := benTab.text("labels", `[...document.querySelectorAll('#labels .chip')].map(e => e.textContent).join('\n')`)
	if !strings.Contains(labels, imgPayload) {
		t.Fatalf("labels %q lack %q", labels, imgPayload)
	}

	// The feed shows both, newest first, by Ben.
	entries := benTab.text("feed", `[...document.querySelectorAll('#feed-list > li.entry')].slice(0, 2).map(li => li.className + ' | ' + li.innerText.replace(/\s+/g, ' ')).join('\n')`)
	lines := strings.Split(entries, "\n")
	if len(lines) != 2 ||
		!strings.Contains(lines[0], "action-label_added") || !strings.Contains(lines[0], "Ben Okafor added the label "+imgPayload) ||
		!strings.Contains(lines[1], "action-comment_added") || !strings.Contains(lines[1], "Ben Okafor commented") || !strings.Contains(lines[1], scriptPayload) {
		t.Fatalf("the feed's first entries are\n%s\nwant Ben's label %q, then Ben's comment %q", entries, imgPayload, scriptPayload)
	}
	benTab.noMarkup("issue page", scriptPayload, imgPayload)
	benTab.shot("issue.png")

	// "Load more" appends the next page in place, until the first event.
	for range 10 {
		if benTab.eval("more link", `document.querySelector('#feed-list + a.more') !== null`) == false {
			break
		}
		n := benTab.eval("count entries", `document.querySelectorAll('#feed-list > li.entry').length`).(float64)
		benTab.do("load more", chromedp.Click(chromedp.CSS("#feed-list + a.more")))
		benTab.waitJS("the next page", fmt.Sprintf(`document.querySelectorAll('#feed-list > li.entry').length > %v`, n))
	}
	if last := benTab.text("last entry", `document.querySelector('#feed-list > li.entry:last-child').className`); !strings.Contains(last, "action-issue_opened") {
		t.Errorf("after loading every page the last entry is %q, want the issue_opened event", last)
	}

	// Ana's open inbox shows both live, without a reload.
	anaTab.waitJS("Ben's comment and label in Ana's inbox",
		`(() => { const t = document.querySelector('#notifications').innerText;
		          return document.querySelectorAll('li.notification.unread.action-comment_added').length > 0 &&
		                 t.includes(`+jsString(scriptPayload)+`) && t.includes(`+jsString(imgPayload)+`); })()`)
	anaTab.waitJS("the badge to match", `document.querySelector('#unread-badge').textContent === document.querySelector('#notifications ol').dataset.unread`)
	unread := anaTab.text("badge", `document.querySelector('#unread-badge').textContent`)
	anaTab.noMarkup("notifications", scriptPayload, imgPayload)
	anaTab.shot("notifications.png")
	// She marks the comment's notification read.
	anaTab.submit("mark read", `li.notification.unread.action-comment_added form.op-read button`)
	anaTab.waitJS("one fewer unread", fmt.Sprintf(`document.querySelector('#unread-badge').textContent === String(%s - 1)`, unread))
	if got := anaTab.eval("the comment's notification", `[...document.querySelectorAll('li.notification.action-comment_added')].some(li => li.innerText.includes(`+jsString(scriptPayload)+`) && !li.classList.contains('unread'))`); got != true {
		t.Errorf("after marking it read, Ben's comment's notification is not shown read")
	}
	anaTab.submit("mark all read", `#mark-all-read button`)
	anaTab.waitJS("no unread", `document.querySelector('#unread-badge').textContent === '0' && document.querySelectorAll('li.notification.unread').length === 0`)

	// The dev mailbox has Ben's comment, mailed to Ana; the dev Slack has
	// the label. Both are delivered by jobs: wait for them on the servers'
	// own signals, then look at the pages.
	mail := waitMail(t, d, "ana@example.com", scriptPayload)
	if !strings.Contains(mail.Subject, issue.Title) || !strings.Contains(mail.Text, d.url+"/unsubscribe?") {
		t.Errorf("the mail's subject %q should name the issue %q and its body hold the unsubscribe link:\n%s", mail.Subject, issue.Title, mail.Text)
	}
	checkUnsubscribe(t, d, mail, ana)
	anaTab.do("dev mailbox", chromedp.Navigate(d.url+"/dev/mail"), chromedp.WaitVisible(chromedp.CSS("#mails")))
	mails := anaTab.text("mails", `[...document.querySelectorAll('#mails li.mail')].map(li => li.innerText).join('\n----\n')`)
	if !strings.Contains(mails, "Ben Okafor commented on "+issue.Title) || !strings.Contains(mails, "ana@example.com") {
		t.Errorf("the dev mailbox lacks Ben's comment mailed to Ana:\n%.2000s", mails)
	}
	anaTab.noMarkup("dev mailbox", scriptPayload)
	waitSlack(t, d, imgPayload)
	anaTab.do("dev Slack", chromedp.Navigate(d.url+"/dev/slack"), chromedp.WaitVisible(chromedp.CSS("#slack-messages")))
	anaTab.noMarkup("dev Slack", scriptPayload, imgPayload)
	// Ben's message is on the page (not necessarily first: a seeded
	// message held back by the fake Slack's rate limit may arrive later).
	if all := anaTab.text("slack", `[...document.querySelectorAll('#slack-messages .slack-text')].map(e => e.innerText).join('\n----\n')`); !strings.Contains(all, "Ben Okafor") {
		t.Errorf("no Slack message on the page is Ben's:\n%.2000s", all)
	}

	// The event browser, filtered to label_added, shows Ben's label first.
	benTab.do("event browser", chromedp.Navigate(d.url+eventsPrefix+"/?action=label_added"), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	benTab.noMarkup("event browser", imgPayload)
	benTab.shot("events.png")
	first := benTab.text("first event", `document.querySelector('#feed-list > li.entry .line').innerText`)
	if !strings.Contains(first, "Ben Okafor added the label "+imgPayload) {
		t.Fatalf("the event browser's first label_added event reads %q", first)
	}

	// Its permalink shows the metadata, with the label in extra as text.
	benTab.navigate("open the permalink", chromedp.Click(chromedp.CSS("#feed-list > li.entry a.when")))
	benTab.do("permalink", chromedp.WaitVisible(chromedp.CSS("#event-extra")))
	if extra := benTab.text("extra", `document.querySelector('#event-extra').textContent`); !strings.Contains(extra, imgPayload) {
		t.Errorf("the permalink's extra reads %q, want it to hold %q", extra, imgPayload)
	}
	props := benTab.text("props", `document.querySelector('#event-props').innerText`)
	for _, want := range []string{"users:" + fmt.Sprint(ben.ID), "web", "127.0.0.1", "HeadlessChrome"} {
		if !strings.Contains(props, want) {
			t.Errorf("the permalink's metadata lacks %q:\n%s", want, props)
		}
	}
	benTab.noMarkup("event permalink", imgPayload)
	// The correlation id leads to everything the request set off.
	benTab.navigate("follow the correlation id", chromedp.Click(chromedp.CSS(`#event-props a.correlation`)))
	benTab.do("correlation filter", chromedp.WaitVisible(chromedp.CSS(`#event-filter input[name="correlation"]:not([value=""])`)))
	if n := benTab.eval("correlated events", `document.querySelectorAll('#feed-list > li.entry').length`); n != float64(1) {
		t.Errorf("the label's request set off %v events, want 1", n)
	}

	// The project's and Ben's feeds show both as text.
	benTab.do("project feed", chromedp.Navigate(fmt.Sprintf("%s/projects/%d", d.url, issue.ProjectID)), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	benTab.noMarkup("project feed", scriptPayload, imgPayload)
	benTab.do("Ben's feed", chromedp.Navigate(fmt.Sprintf("%s/users/%d", d.url, ben.ID)), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	benTab.noMarkup("user feed", scriptPayload, imgPayload)
	benTab.do("queues", chromedp.Navigate(d.url+opsPrefix), chromedp.WaitVisible(chromedp.CSS("#queues")), chromedp.WaitVisible(chromedp.CSS("#breakers")))
	// The Queues page links to the health report and the metrics.
	benTab.navigate("follow the health link", chromedp.Click(chromedp.CSS(`#ops-links a[href="/healthz"]`)))
	if h := benTab.text("health report", `document.body.innerText`); !strings.Contains(h, `"status":"ok"`) || !strings.Contains(h, `"name":"postgres"`) {
		t.Errorf("/healthz from the Queues page shows %.300q, want an ok report with its checks", h)
	}
	benTab.do("queues again", chromedp.Navigate(d.url+opsPrefix), chromedp.WaitVisible(chromedp.CSS("#queues")))
	benTab.navigate("follow the metrics link", chromedp.Click(chromedp.CSS(`#ops-links a[href="/metrics"]`)))
	if m := benTab.text("metrics", `document.body.innerText`); !strings.Contains(m, `tidings_events_recorded_total{action="comment_added",domain="issue",result="inserted"}`) {
		t.Errorf("/metrics from the Queues page lacks the recording counter: %.300q", m)
	}

	// Ben makes a workflow rule in the editor: a mistake is shown at its
	// field and nothing is saved; fixed, a dry run, then saved.
	ruleName := "Marco " + imgPayload
	reply := "polo " + scriptPayload
	cond := func(field string) chromedp.CSS {
		return chromedp.CSS(`#conditions tr.cond-row[data-row="0"] [name="` + field + `"]`)
	}
	benTab.do("new rule", chromedp.Navigate(d.url+rulesPrefix+"/new"), chromedp.WaitVisible(chromedp.CSS("#rule-form")),
		chromedp.SendKeys(chromedp.CSS(`#rule-form input[name="name"]`), ruleName),
		chromedp.SetValue(chromedp.CSS(`#rule-form select[name="triggered_on"]`), ActionCommentAdded),
		chromedp.SetValue(cond("cond_attribute"), "subject.created_at"),
		chromedp.SetValue(cond("cond_operator"), "lt"),
		chromedp.SendKeys(cond("cond_value"), "banana"),
		chromedp.SetValue(chromedp.CSS(`#actions li[data-row="0"] select.action-type`), actionReply),
		chromedp.SetValue(chromedp.CSS(`#actions li[data-row="0"] input[name="action0.reply.message"]`), reply))
	benTab.navigate("save the bad rule", chromedp.Click(chromedp.CSS("#save-rule")))
	benTab.do("see the error at its field", chromedp.WaitVisible(chromedp.CSS(`[data-field="conditions[0].value"]`)))
	if msg := benTab.text("error", `document.querySelector('[data-field="conditions[0].value"]').textContent`); !strings.Contains(msg, "banana") {
		t.Errorf("the value's error reads %q, want it to name the bad value", msg)
	}
	if rs, err := d.app.client.Rules().List(context.Background(), workflow.RuleQuery{}); err != nil || len(rs) != 1 || rs[0].Key != pingRuleKey {
		t.Fatalf("after a refused save the store holds %d rules (err %v), want only the one kept in code", len(rs), err)
	}
	benTab.do("fix the condition",
		chromedp.SetValue(cond("cond_attribute"), "record.body"),
		chromedp.SetValue(cond("cond_operator"), "matches"),
		chromedp.SetValue(cond("cond_value"), `(?i)\bmarco\b`))
	benTab.navigate("dry run", chromedp.Click(chromedp.CSS("#dry-run")))
	benTab.do("see the dry run", chromedp.WaitVisible(chromedp.CSS("#dry-run-result")))
	benTab.navigate("save the rule", chromedp.Click(chromedp.CSS("#save-rule")))
	benTab.do("see the rule", chromedp.WaitVisible(chromedp.CSS("#runs")))
	benTab.noMarkup("rule page", ruleName)
	benTab.do("rules list", chromedp.Navigate(d.url+rulesPrefix), chromedp.WaitVisible(chromedp.CSS("#rules")))
	benTab.noMarkup("rules list", ruleName)

	// The next comment that says marco gets the rule's reply.
	benTab.do("open the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#comment-form textarea"), "Marco? Anyone?"))
	benTab.submit("comment marco", "#comment-form textarea")
	waitReply(t, d, issue.ID, reply)
	benTab.do("reload the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	last := benTab.text("last comment", `document.querySelector('#comments > li.comment:last-child').innerText`)
	if !strings.Contains(last, "workflow") || !strings.Contains(last, reply) {
		t.Errorf("the last comment reads %q, want the workflow's reply %q", last, reply)
	}
	top := benTab.text("feed head", `document.querySelector('#feed-list > li.entry .line').innerText`)
	if !strings.Contains(top, "Workflow: "+ruleName+" commented") {
		t.Errorf("the feed's newest entry reads %q, want the rule's reply", top)
	}
	benTab.noMarkup("issue page after the rule", reply, ruleName)
	// Why is that comment there? Its permalink names the comment that
	// caused it, whose permalink names the rule and what it did.
	benTab.navigate("open the reply's permalink", chromedp.Click(chromedp.CSS("#feed-list > li.entry a.when")))
	benTab.do("see the cause", chromedp.WaitVisible(chromedp.CSS("#event-cause")))
	if cause := benTab.text("cause", `document.querySelector('#event-cause').innerText`); !strings.Contains(cause, "Ben Okafor commented") {
		t.Errorf("the reply's cause reads %q, want Ben's comment", cause)
	}
	benTab.noMarkup("reply permalink", reply)
	benTab.navigate("open the cause", chromedp.Click(chromedp.CSS("#event-cause a.when")))
	benTab.do("see the runs", chromedp.WaitVisible(chromedp.CSS("#event-runs")))
	runs := benTab.text("runs", `document.querySelector('#event-runs').innerText`)
	caused := benTab.text("caused", `document.querySelector('#event-caused').innerText`)
	if !strings.Contains(runs, ruleName) || !strings.Contains(runs, "done") || !strings.Contains(caused, "Workflow: "+ruleName+" commented") {
		t.Errorf("the comment's permalink shows runs %q and caused %q; want the rule's done run and its reply", runs, caused)
	}
	benTab.do("rules list", chromedp.Navigate(d.url+rulesPrefix), chromedp.WaitVisible(chromedp.CSS("#rules")))
	benTab.navigate("open the rule", chromedp.Click(chromedp.CSS("#rules tbody tr:last-child a")))
	benTab.do("run log", chromedp.WaitVisible(chromedp.CSS("#runs tr.run-done")))
	benTab.shot("rule.png")

	for _, tb := range []*tab{anaTab, benTab} {
		if got := tb.Dialogs(); len(got) > 0 {
			t.Errorf("%s: JavaScript dialogs opened (an injected script ran): %v", tb.name, got)
		}
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitMail waits for a mail to "to" whose text holds want, on the dev SMTP
// server's arrival signal.
func waitMail(t *testing.T, d *demo, to, want string) smtptest.Message {
	t.Helper()
	srv := d.app.fan.devSMTP
	deadline := time.Now().Add(time.Minute)
	for n := 1; ; n++ {
		msgs, err := srv.WaitFor(n, time.Until(deadline))
		if err != nil {
			t.Fatalf("no mail to %s holding %q: %v", to, want, err)
		}
		m := msgs[n-1]
		if slices.Contains(m.To, to) && strings.Contains(m.Text, want) {
			return m
		}
	}
}

// waitSlack waits for a Slack message holding want (Slack-escaped), on the
// fake Slack API's arrival signal.
func waitSlack(t *testing.T, d *demo, want string) {
	t.Helper()
	srv := d.app.fan.devSlack
	escaped := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(want)
	deadline := time.Now().Add(time.Minute)
	for n := 1; ; n++ {
		msgs, err := srv.WaitFor(n, time.Until(deadline))
		if err != nil {
			t.Fatalf("no Slack message holding %q: %v", escaped, err)
		}
		if strings.Contains(strings.Join(msgs[n-1].Texts(), "\n"), escaped) {
			return
		}
	}
}

// checkUnsubscribe follows the mail's one-click unsubscribe link as a mail
// client does (RFC 8058: a POST) and checks that Ana's mail about comments
// is muted, and that a GET alone (a link scanner) changed nothing.
func checkUnsubscribe(t *testing.T, d *demo, m smtptest.Message, ana User) {
	t.Helper()
	link := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(link, d.url+"/unsubscribe?") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("the mail's List-Unsubscribe is %q (post %q), want a one-click link to %s/unsubscribe",
			link, m.Header.Get("List-Unsubscribe-Post"), d.url)
	}
	muted := func() bool {
		got, err := inbox.Unmuted(activity.WithTenant(context.Background(), ana.OrgID), d.app.db, inbox.ChannelEmail, "issue", ActionCommentAdded, []string{fmt.Sprint(ana.ID)})
		if err != nil {
			t.Fatal(err)
		}
		return len(got) == 0
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || muted() {
		t.Fatalf("GET of the unsubscribe link: status %d, muted %v; want 200 and nothing muted", res.StatusCode, muted())
	}
	res, err = http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !muted() {
		t.Fatalf("one-click POST: status %d, muted %v; want 200 and comment mail muted for Ana", res.StatusCode, muted())
	}
}

// waitReply waits, on the app's change signal (each workflow job), until
// a comment without an author holding want is on the issue.
func waitReply(t *testing.T, d *demo, issueID int64, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		changed := d.app.live.wait()
		var n int64
		if err := d.app.db.Model(&Comment{}).Where("issue_id = ? AND author_id IS NULL AND body = ?", issueID, want).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no workflow reply %q on issue %d within a minute", want, issueID)
		}
	}
}

// testLog is t.Logf until the test ends, then silent: the app's late
// goroutines (asynq quitting, a retry's log line) must not log into a
// finished test, which panics.
func testLog(t *testing.T) func(string, ...any) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
}
