package main

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// demoProcessEnv makes the test binary run the demo's main instead of the
// tests: the two-process test starts it twice, as web and as worker, with
// TIDINGS_DEMO_* variables as its configuration.
const demoProcessEnv = "TIDINGS_DEMO_TEST_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(demoProcessEnv) != "" {
		os.Args = []string{"demo"}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is the demo running as a child OS process.
type process struct {
	cmd  *exec.Cmd
	line chan string // its stdout, line by line
	log  *testWriter // its stderr, the demo's log
}

// startProcess runs the demo with role and env, and waits for the line it
// prints when ready.
func startProcess(t *testing.T, role string, env ...string) (*process, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{demoProcessEnv + "=1", "TIDINGS_DEMO_ROLE=" + role}, env...)...)
	logw := &testWriter{t: t, prefix: role + ": "}
	cmd.Stderr = logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, line: make(chan string, 16), log: logw}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.line <- sc.Text()
		}
		close(p.line)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	select {
	case l, ok := <-p.line:
		if !ok {
			t.Fatalf("the %s process exited before it was ready", role)
		}
		return p, l
	case <-time.After(2 * time.Minute):
		t.Fatalf("the %s process did not start within 2 minutes", role)
	}
	return nil, ""
}

type testWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	lines  []string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
		w.lines = append(w.lines, l)
	}
	return len(p), nil
}

// warnings are the lines logged so far at level WARN or ERROR.
func (w *testWriter) warnings() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, l := range w.lines {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// hookReceiver is a webhook receiver on loopback outside the demo's
// processes: an https server whose certificate both processes are told to
// trust. It passes each delivery whose signature checks with secret on
// got.
type hookReceiver struct {
	srv    *httptest.Server
	secret string
	got    chan string // the CloudEvents' types
}

func newHookReceiver(t *testing.T, secret string) (*hookReceiver, []string) {
	rc := &hookReceiver{secret: secret, got: make(chan string, 64)}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.VerifySignature([]byte(rc.secret), r.Header.Get(webhook.SignatureHeader), r.Header.Get(webhook.TimestampHeader), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("a webhook delivery whose signature does not check: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ce struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &ce)
		select {
		case rc.got <- ce.Type:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	ca := filepath.Join(t.TempDir(), "receiver.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc, []string{"TIDINGS_DEMO_WEBHOOK_RECEIVER=" + rc.srv.Listener.Addr().String(), "TIDINGS_DEMO_WEBHOOK_CA=" + ca}
}

// The web and the worker as separate OS processes, as in production: Ben
// comments on Ana's issue and Ana's open page shows the notification and
// the badge within a second (pushed from the worker through Redis); she
// reads, archives, marks unread and deletes it; the event browser, mounted
// under /tidings/events, leads from the rule's reply to the comment that
// caused it and back; a request without a session gets 403.
func TestBrowserTwoProcesses(t *testing.T) {
	b := newBrowser(t)
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_demo_2p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Flush(ctx, 6); err != nil {
		t.Fatal(err)
	}
	// No -secret: each process derives the same default from the DSN.
	hooks, hookEnv := newHookReceiver(t, "two-process-hook-secret")
	env := append([]string{"TIDINGS_DEMO_DB=" + pgtest.DSN("tidings_test_demo_2p"), "TIDINGS_DEMO_REDIS=" + redistest.Addr(), "TIDINGS_DEMO_REDIS_DB=6",
		"TIDINGS_DEMO_STALE_EVERY=1h", "TIDINGS_DEMO_SECRET="}, hookEnv...)
	web, ready := startProcess(t, RoleWeb, append(env, "TIDINGS_DEMO_ADDR=127.0.0.1:0")...)
	base, ok := strings.CutPrefix(ready, "tidings demo: open ")
	if !ok {
		t.Fatalf("the web process said %q", ready)
	}
	base = strings.TrimSuffix(base, "/")
	worker, said := startProcess(t, RoleWorker, append(env, "TIDINGS_DEMO_BASE_URL="+base, "TIDINGS_DEMO_METRICS_ADDR=127.0.0.1:0")...)
	workerOps, ok := strings.CutPrefix(said, "tidings demo: worker metrics at ")
	workerOps, _, _ = strings.Cut(workerOps, "/metrics")
	if !ok {
		t.Fatalf("the worker process said %q, want where its metrics are", said)
	}

	var ana, ben User
	if err := db.Where("name = ?", "Ana Lima").Take(&ana).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Where("name = ?", "Ben Okafor").Take(&ben).Error; err != nil {
		t.Fatal(err)
	}
	var issue Issue
	if err := db.Where("author_id = ? AND title LIKE 'Login fails%'", ana.ID).Take(&issue).Error; err != nil {
		t.Fatal(err)
	}
	issueURL := fmt.Sprintf("%s/issues/%d", base, issue.ID)

	// No session, no event browser.
	res, err := http.Get(base + eventsPrefix + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("the event browser without a session: %d, want 403", res.StatusCode)
	}

	shots := screenshotDir(t)
	anaTab := b.newTab(t, "Ana", shots, 3*time.Minute)
	anaTab.switchUser(base, ana)
	anaTab.do("open notifications", chromedp.Navigate(base+"/notifications"), chromedp.WaitVisible(chromedp.CSS("#notifications ol")))
	anaTab.waitJS("the stream's counts", `document.querySelector('#unread-badge').textContent === document.querySelector('#notifications ol').dataset.unread`)
	// The stream is open once the center registered it: the counts event
	// set the badge (wait for it without a deadline: the page's first
	// connection is not what is measured).
	before := anaTab.text("badge", `document.querySelector('#unread-badge').textContent`)
	if _, err := strconv.Atoi(before); err != nil {
		t.Fatalf("badge %q", before)
	}

	benTab := b.newTab(t, "Ben", shots, 3*time.Minute)
	benTab.switchUser(base, ben)
	// Ben subscribes a webhook to comments in the web process; the
	// worker opens its sealed secret and delivers (a secret of each
	// process's own would dead-letter it: "cannot open a sealed secret").
	benTab.do("subscribe a webhook", chromedp.Navigate(base+"/history/webhooks"), chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SetValue(chromedp.CSS(`#webhook-form input[name="url"]`), hooks.srv.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS(`#webhook-form input[name="secret"]`), hooks.secret),
		chromedp.SetValue(chromedp.CSS(`#webhook-form select[name="action"]`), ActionCommentAdded))
	benTab.submit("subscribe", `#webhook-form input[name="url"]`)
	if e := benTab.text("the page's error", `(document.querySelector('#webhook-error') || {innerText: ''}).innerText`); e != "" {
		t.Fatalf("subscribing the webhook: %s", e)
	}
	if subs := benTab.text("subscriptions", `document.querySelector('#subscriptions').innerText`); !strings.Contains(subs, hooks.srv.URL) {
		t.Fatalf("the subscriptions read %q, want %s", subs, hooks.srv.URL)
	}
	const text = "Still failing for me on Safari"
	benTab.do("open the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#comment-form textarea"), text))
	benTab.submit("comment", "#comment-form textarea") // returns once the comment committed
	committed := time.Now()
	// Within a second, Ana's open page shows it, with the badge one up.
	live, cancel := context.WithTimeout(anaTab.ctx, time.Second)
	_, err = chromedp.Run(live, chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
		const li = [...document.querySelectorAll('li.notification.unread.action-comment_added')].find(li => li.innerText.includes(%s));
		return li !== undefined && document.querySelector('#unread-badge').textContent === String(%s + 1); })()`, jsString(text), before),
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0)))
	cancel()
	if err != nil {
		t.Fatalf("Ana's page did not show Ben's comment and the badge at %s+1 within 1s of the commit (worker and web in separate processes): %v", before, err)
	}
	t.Logf("commit to Ana's page: %v", time.Since(committed))
	anaTab.shot("two-process-notifications.png")

	id := anaTab.text("the notification's id", fmt.Sprintf(`[...document.querySelectorAll('li.notification.action-comment_added')].find(li => li.innerText.includes(%s)).dataset.notification`, jsString(text)))
	item := fmt.Sprintf(`li.notification[data-notification="%s"]`, id)
	nid, _ := strconv.ParseInt(id, 10, 64)
	// Read, then archive: it leaves the inbox for the archive tab.
	anaTab.submit("mark read", item+" form.op-read button")
	anaTab.waitJS("the badge back", fmt.Sprintf(`document.querySelector('#unread-badge').textContent === %s`, jsString(before)))
	anaTab.submit("archive", item+" form.op-archive button")
	anaTab.do("the inbox", chromedp.WaitVisible(chromedp.CSS("#notifications ol")))
	if n := anaTab.eval("archived item in the inbox", fmt.Sprintf(`document.querySelectorAll('#notifications %s').length`, item)); n != float64(0) {
		t.Errorf("the archived notification is still in the inbox")
	}
	anaTab.do("the archive", chromedp.Navigate(base+"/notifications?archived=1"), chromedp.WaitVisible(chromedp.CSS("#notifications "+item)))
	// Unread again (archived: the badge does not count it), then deleted.
	anaTab.submit("mark unread", item+" form.op-unread button")
	anaTab.do("unread in the archive", chromedp.WaitVisible(chromedp.CSS("#notifications "+item+".unread")))
	if got := anaTab.text("badge", `document.querySelector('#unread-badge').textContent`); got != before {
		t.Errorf("badge %s after marking an archived notification unread, want %s", got, before)
	}
	anaTab.submit("delete", item+" form.op-delete button")
	anaTab.do("the archive after delete", chromedp.WaitVisible(chromedp.CSS("#notifications ol")))
	if n := anaTab.eval("deleted item", fmt.Sprintf(`document.querySelectorAll('#notifications %s').length`, item)); n != float64(0) {
		t.Errorf("the deleted notification is still listed")
	}
	if _, err := notify.Get(ctx, db, strconv.FormatInt(ana.ID, 10), nid); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("the deleted notification: %v, want ErrNotFound", err)
	}

	// "ping" gets the rule kept in code's reply, from the worker; Ana's
	// open inbox hears of the reply too.
	anaTab.do("back to the inbox", chromedp.Navigate(base+"/notifications"), chromedp.WaitVisible(chromedp.CSS("#notifications ol")))
	anaTab.waitJS("the stream", `document.querySelector('#unread-badge').textContent === document.querySelector('#notifications ol').dataset.unread`)
	benTab.do("open the issue", chromedp.Navigate(issueURL), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#comment-form textarea"), "ping — is anyone looking at this?"))
	benTab.submit("comment ping", "#comment-form textarea")
	anaTab.waitJS("the rule's reply in Ana's inbox", `[...document.querySelectorAll('li.notification.action-comment_added')].some(li => li.innerText.includes('pong'))`)

	// The event browser: the reply's permalink names its cause; the
	// cause's lists the reply; and back.
	benTab.do("event browser", chromedp.Navigate(base+eventsPrefix+"/?action=comment_added"), chromedp.WaitVisible(chromedp.CSS("#feed-list")))
	if first := benTab.text("first event", `document.querySelector('#feed-list > li.entry .line').innerText`); !strings.Contains(first, "commented") || !strings.Contains(strings.ToLower(first), "workflow") {
		t.Fatalf("the newest comment_added reads %q, want the workflow's reply", first)
	}
	benTab.navigate("open the reply", chromedp.Click(chromedp.CSS("#feed-list > li.entry a.when")))
	benTab.do("see the cause", chromedp.WaitVisible(chromedp.CSS("#event-cause")))
	replyURL := benTab.text("url", `location.pathname`)
	if cause := benTab.text("cause", `document.querySelector('#event-cause').innerText`); !strings.Contains(cause, "Ben Okafor commented") {
		t.Errorf("the reply's cause reads %q, want Ben's comment", cause)
	}
	benTab.navigate("open the cause", chromedp.Click(chromedp.CSS("#event-cause a.when")))
	benTab.do("see what it caused", chromedp.WaitVisible(chromedp.CSS("#event-caused")))
	if runs := benTab.text("runs", `document.querySelector('#event-runs').innerText`); !strings.Contains(runs, "kept in code") || !strings.Contains(runs, "done") {
		t.Errorf("the comment's runs read %q, want the code rule's done run", runs)
	}
	benTab.navigate("back to the reply", chromedp.Click(chromedp.CSS("#event-caused a.when")))
	benTab.do("the reply again", chromedp.WaitVisible(chromedp.CSS("#event-cause")))
	if back := benTab.text("url", `location.pathname`); back != replyURL {
		t.Errorf("from the cause, its effect leads to %s, want the reply %s", back, replyURL)
	}
	benTab.shot("two-process-event.png")

	// The worker serves its metrics and health on -metrics-addr: it ran the
	// relay and the deliveries; the web process runs no relay, so its
	// health report has no LISTEN check.
	opsGet := func(url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		return string(body)
	}
	metrics := opsGet(workerOps + "/metrics")
	for _, series := range []string{"tidings_relay_enqueued_total", `tidings_deliveries_total{inbox="notify",outcome="done"}`, `tidings_workflow_actions_total{outcome="done",type="reply"}`} {
		if v := sample(t, metrics, series); !(v > 0) {
			t.Errorf("the worker's %s is %v, want more than 0", series, v)
		}
	}
	if h := opsGet(workerOps + "/healthz"); !strings.Contains(h, `"name":"relay_listen","status":"ok"`) {
		t.Errorf("the worker's health report: %s", h)
	}
	if h := opsGet(base + "/healthz"); !strings.Contains(h, `"status":"ok"`) || strings.Contains(h, "relay_listen") {
		t.Errorf("the web process's health report: %s", h)
	}
	// The Queues page of the web process (the library's operations page)
	// shows the worker's relay as the worker publishes it, and the Rules
	// page (the library's rule editor) the rule kept in code.
	benTab.do("the queues in the web process", chromedp.Navigate(base+opsPrefix), chromedp.WaitVisible(chromedp.CSS("#workers")))
	if w := benTab.text("workers", `document.querySelector('#workers').innerText`); !strings.Contains(w, "LISTEN up") || strings.Contains(w, "polling") {
		t.Errorf("the web process's Queues page shows the workers as %q, want the worker's relay with LISTEN up", w)
	}
	// Its breakers are the worker's too (the dev SMTP server and Slack API
	// it delivered to, closed), as the worker publishes them: poll the
	// page until they are published, with a deadline.
	for deadline := time.Now().Add(30 * time.Second); ; {
		benTab.do("the breakers in the web process", chromedp.Navigate(base+opsPrefix), chromedp.WaitVisible(chromedp.CSS("#breakers")))
		if n := benTab.eval("closed breakers", `document.querySelectorAll('#breakers tr.breaker-closed').length`); n.(float64) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the web process's Queues page shows no breaker of the worker within 30s: %q", benTab.text("breakers", `document.querySelector('#breakers').innerText`))
			break
		}
	}
	benTab.do("the rules in the web process", chromedp.Navigate(base+rulesPrefix), chromedp.WaitVisible(chromedp.CSS("#code-rules")))
	if r := benTab.text("rules kept in code", `document.querySelector('#code-rules').innerText`); !strings.Contains(r, "Ping? Pong!") {
		t.Errorf("the Rules page lists the rules kept in code as %q, want the ping rule", r)
	}
	// The webhook subscription made in the web process was delivered by
	// the worker.
	select {
	case typ := <-hooks.got:
		if !strings.Contains(typ, ActionCommentAdded) {
			t.Errorf("the webhook delivered a %q, want a comment_added", typ)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the webhook subscribed in the web process got no delivery from the worker within 30s of the comments")
	}
	// The preference page and the event browser sit inside the app's
	// layout (its header and navigation around them).
	for _, page := range []struct{ url, content string }{{base + prefsPrefix + "/", "#preferences"}, {base + eventsPrefix + "/", "#feed-list"}} {
		benTab.do("open "+page.url, chromedp.Navigate(page.url), chromedp.WaitVisible(chromedp.CSS(page.content)))
		if in := benTab.eval("in the layout", fmt.Sprintf(`document.querySelector('header.top a.brand') !== null && document.querySelector('main %s') !== null`, page.content)); in != true {
			t.Errorf("%s is not inside the demo's layout (header.top, main)", page.url)
		}
	}
	// A clean start (and all the above) logged no warning and no error in
	// either process.
	for _, p := range []*process{web, worker} {
		for _, l := range p.log.warnings() {
			t.Errorf("%slogged %s", p.log.prefix, l)
		}
	}
	for _, tb := range []*tab{anaTab, benTab} {
		if got := tb.Dialogs(); len(got) > 0 {
			t.Errorf("%s: JavaScript dialogs opened: %v", tb.name, got)
		}
	}
}
