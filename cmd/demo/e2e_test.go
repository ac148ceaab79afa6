package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
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

func startDemo(t *testing.T) *demo {
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
	app, err := NewApp(ctx, Config{
		DSN:          pgtest.DSN("tidings_test_demo"),
		RedisAddr:    redistest.Addr(),
		RedisDB:      6,
		Addr:         "127.0.0.1:0",
		FeedPageSize: 5,
		StaleEvery:   time.Hour,
		Log:          t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
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

// browser is a headless Chromium tab that records every JavaScript dialog
// (an alert from an injected script would open one) and dismisses it.
type browser struct {
	ctx     context.Context
	mu      sync.Mutex
	dialogs []string
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
	b := &browser{ctx: ctx}
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprintf("%s: %q", ev.Type, ev.Message))
			b.mu.Unlock()
			chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

func (b *browser) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
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

// A person uses the demo in a real browser: they comment and label an issue
// (with markup in both), watch the feed, page through it, and follow an
// event to its permalink; markup shows as text everywhere and no script runs.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	d := startDemo(t)
	shots := screenshotDir(t)
	t.Logf("screenshots: %s", shots)
	fmt.Fprintf(os.Stderr, "demo e2e screenshots in %s\n", shots)

	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	submit := func(what string, sel string) {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(sel))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(what, js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	text := func(what, js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// noMarkup checks that the page shows both payloads as text and that
	// neither became an element.
	noMarkup := func(page string, want ...string) {
		t.Helper()
		body := text(page+": body text", `document.body.innerText`)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page text lacks %q", page, w)
			}
		}
		if n := eval(page+": injected elements", `document.querySelectorAll('img, iframe, main script, body > script:not([src])').length`); n != float64(0) {
			t.Errorf("%s: %v injected img/iframe/script elements in the DOM", page, n)
		}
	}

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

	// Act as Ben through the user switcher.
	do("open the issues list", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(chromedp.CSS("table.issues")),
		chromedp.SetValue(chromedp.CSS("#user-switcher"), fmt.Sprint(ben.ID)))
	submit("switch to Ben", "#user-switcher")
	do("see Ben selected", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#user-switcher option[value="%d"][selected]`, ben.ID))))

	// Ben comments on Ana's issue, then labels it.
	do("open the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#comment-form textarea"), scriptPayload))
	submit("comment", "#comment-form textarea")
	do("see the comment", chromedp.WaitVisible(chromedp.CSS("#comments > li.comment:nth-child(4)")))
	comments := text("comments", `[...document.querySelectorAll('#comments .comment-body')].map(e => e.textContent).join('\n')`)
	if !strings.Contains(comments, scriptPayload) {
		t.Fatalf("comments %q lack the new comment %q", comments, scriptPayload)
	}
	do("type a label", chromedp.SendKeys(chromedp.CSS(`#label-form input[name="name"]`), imgPayload))
	submit("add the label", `#label-form input[name="name"]`)
	do("see the label", chromedp.WaitVisible(chromedp.CSS("#labels > li:nth-child(3)")))
	labels := text("labels", `[...document.querySelectorAll('#labels .chip')].map(e => e.textContent).join('\n')`)
	if !strings.Contains(labels, imgPayload) {
		t.Fatalf("labels %q lack %q", labels, imgPayload)
	}

	// The feed shows both, newest first, by Ben.
	entries := text("feed", `[...document.querySelectorAll('#feed-list > li.entry')].slice(0, 2).map(li => li.className + ' | ' + li.innerText.replace(/\s+/g, ' ')).join('\n')`)
	lines := strings.Split(entries, "\n")
	if len(lines) != 2 ||
		!strings.Contains(lines[0], "action-label_added") || !strings.Contains(lines[0], "Ben Okafor added the label "+imgPayload) ||
		!strings.Contains(lines[1], "action-comment_added") || !strings.Contains(lines[1], "Ben Okafor commented") || !strings.Contains(lines[1], scriptPayload) {
		t.Fatalf("the feed's first entries are\n%s\nwant Ben's label %q, then Ben's comment %q", entries, imgPayload, scriptPayload)
	}
	noMarkup("issue page", scriptPayload, imgPayload)
	shot("issue.png")

	// "Load more" appends the next page in place, until the first event.
	before := eval("count entries", `document.querySelectorAll('#feed-list > li.entry').length`).(float64)
	do("load more",
		chromedp.Click(chromedp.CSS("#feed-list + a.more")),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('#feed-list > li.entry').length > %v`, before), chromedp.WithPollingMutation()),
	)
	for range 5 {
		if eval("more link", `document.querySelector('#feed-list + a.more') !== null`) == false {
			break
		}
		n := eval("count entries", `document.querySelectorAll('#feed-list > li.entry').length`).(float64)
		do("load more", chromedp.Click(chromedp.CSS("#feed-list + a.more")),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('#feed-list > li.entry').length > %v`, n), chromedp.WithPollingMutation()))
	}
	if last := text("last entry", `document.querySelector('#feed-list > li.entry:last-child').className`); !strings.Contains(last, "action-issue_opened") {
		t.Errorf("after loading every page the last entry is %q, want the issue_opened event", last)
	}

	// The event browser, filtered to label_added, shows Ben's label first.
	do("event browser", chromedp.Navigate(d.url+"/events?action=label_added"), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	noMarkup("event browser", imgPayload)
	shot("events.png")
	first := text("first event", `document.querySelector('#feed-list > li.entry .line').innerText`)
	if !strings.Contains(first, "Ben Okafor added the label "+imgPayload) {
		t.Fatalf("the event browser's first label_added event reads %q", first)
	}

	// Its permalink shows the metadata, with the label in extra as text.
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#feed-list > li.entry a.when")))
	if err != nil {
		t.Fatalf("open the permalink: %v", err)
	}
	do("permalink", chromedp.WaitVisible(chromedp.CSS("#event-extra")))
	if extra := text("extra", `document.querySelector('#event-extra').textContent`); !strings.Contains(extra, imgPayload) {
		t.Errorf("the permalink's extra reads %q, want it to hold %q", extra, imgPayload)
	}
	props := text("props", `document.querySelector('#event-props').innerText`)
	for _, want := range []string{"users:" + fmt.Sprint(ben.ID), "web", "127.0.0.1", "HeadlessChrome"} {
		if !strings.Contains(props, want) {
			t.Errorf("the permalink's metadata lacks %q:\n%s", want, props)
		}
	}
	noMarkup("event permalink", imgPayload)
	// The correlation id leads to everything the request set off.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#event-props a[href^="/events?correlation="]`))); err != nil {
		t.Fatalf("follow the correlation id: %v", err)
	}
	do("correlation filter", chromedp.WaitVisible(chromedp.CSS(`#event-filter input[name="correlation"]:not([value=""])`)))
	if n := eval("correlated events", `document.querySelectorAll('#feed-list > li.entry').length`); n != float64(1) {
		t.Errorf("the label's request set off %v events, want 1", n)
	}

	// The project's and Ben's feeds show both as text.
	do("project feed", chromedp.Navigate(fmt.Sprintf("%s/projects/%d", d.url, issue.ProjectID)), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	noMarkup("project feed", scriptPayload, imgPayload)
	do("Ben's feed", chromedp.Navigate(fmt.Sprintf("%s/users/%d", d.url, ben.ID)), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	noMarkup("user feed", scriptPayload, imgPayload)

	if got := b.Dialogs(); len(got) > 0 {
		t.Errorf("JavaScript dialogs opened (an injected script ran): %v", got)
	}
}
