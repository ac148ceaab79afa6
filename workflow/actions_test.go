package workflow_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/workflow"
)

// process runs the engine on ev as the worker would: with ev as the cause.
func process(t testing.TB, e *workflow.Engine, ev activity.Event, attempt int) error {
	t.Helper()
	return e.Process(activity.WithCause(context.Background(), activity.CauseOf(ev)), delivery(ev, attempt))
}

// The built-in record_event and notify actions, on a rule scoped to one
// subject: only that subject's events run it.
func TestRecordEventAndNotify(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	watched := newIssue(t, "Watched", time.Now())
	other := newIssue(t, "Other", time.Now())
	r, err := app.rules.Create(ctx, "users:1", workflow.Rule{
		Name: "Close on wontfix", Domain: "issue", TriggeredOn: "labeled", Enabled: true,
		Scope:      workflow.SubjectScope(itoa(watched)),
		Conditions: workflow.Conditions{workflow.Cond("extra.label", workflow.OpEq, "wontfix")},
		Actions: []workflow.RuleAction{
			workflow.Do(workflow.ActionNotify, workflow.Params{"recipients": []string{"2", "3", "1"}}),
			workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "closed", "note": "wontfix"}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := record(t, watched, "labeled", activity.Extra{"label": "wontfix"})
	elsewhere := record(t, other, "labeled", activity.Extra{"label": "wontfix"})
	for _, e := range []activity.Event{ev, elsewhere} {
		if err := process(t, app.engine, e, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := process(t, app.engine, ev, 2); err != nil { // a duplicate job
		t.Fatal(err)
	}
	run, _ := runOf(t, app.rules, r.ID, ev)
	if run.Status != workflow.RunDone || run.Actions[0].Result.Summary != "notified 2 of 3 users" {
		t.Errorf("run: %+v", run)
	}
	if _, ok := runOf(t, app.rules, r.ID, elsewhere); ok {
		t.Error("a rule scoped to one subject ran on another")
	}
	for who, want := range map[string]int{"1": 0, "2": 1, "3": 1} {
		page, err := notify.List(ctx, testDB, notify.Query{Recipient: who})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Notifications) != want {
			t.Errorf("user %s has %d notifications, want %d", who, len(page.Notifications), want)
		}
		for _, n := range page.Notifications {
			if n.Event != ev.Ref() || n.Inbox != workflow.DefaultEngineName {
				t.Errorf("notification: %+v", n)
			}
		}
	}
	caused := causedBy(t, ev)
	if len(caused) != 1 {
		t.Fatalf("caused %d events", len(caused))
	}
	closed := caused[0]
	x := closed.ExtraMap()
	if closed.Action != "closed" || closed.SubjectID != itoa(watched) || closed.Depth != 1 || x["note"] != "wontfix" || x["workflow_rule_id"] != float64(r.ID) {
		t.Errorf("recorded: %+v %v", closed, x)
	}
}

// A rule scoped to a tenant runs on the events of that tenant's subjects.
func TestTenantScope(t *testing.T) {
	reset(t)
	ctx := context.Background()
	var lookups atomic.Int32
	app := newApp(t, appConfig{tenant: func(ctx context.Context, db *gorm.DB, ev activity.Event) (string, error) {
		lookups.Add(1)
		var tenant string
		err := db.WithContext(ctx).Raw(`SELECT tenant FROM issues WHERE id = ?`, ev.SubjectID).Scan(&tenant).Error
		return tenant, err
	}})
	r := staleRule()
	r.Conditions = nil
	r.Scope = workflow.TenantScope("globex")
	rule, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	acme := newIssue(t, "Acme's", time.Now())
	globex := newIssue(t, "Globex's", time.Now())
	if err := testDB.Exec(`UPDATE issues SET tenant = 'globex' WHERE id = ?`, globex).Error; err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{acme, globex} {
		if err := process(t, app.engine, comment(t, id, "hello"), 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := commentsOn(t, globex); !slices.Equal(got, []string{"hello", staleReply}) {
		t.Errorf("globex: %q", got)
	}
	if got := commentsOn(t, acme); len(got) != 1 {
		t.Errorf("acme: %q", got)
	}
	if n := lookups.Load(); n != 2 {
		t.Errorf("tenant looked up %d times, want once per event", n)
	}
	runs, _ := app.rules.Runs(ctx, workflow.RunQuery{RuleID: rule.ID})
	if len(runs) != 1 {
		t.Errorf("runs: %+v", runs)
	}
}

// hookServer is a real HTTPS receiver on loopback that checks signatures.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	keys     []string
	statuses []int // answered in turn; 200 after
	badSig   int
}

func newHookServer(t *testing.T, secret string, statuses ...int) *hookServer {
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := workflow.VerifySignature([]byte(secret), r.Header.Get(workflow.SignatureHeader), r.Header.Get(workflow.TimestampHeader), body, time.Now(), time.Minute); err != nil {
			h.badSig++
		}
		h.bodies = append(h.bodies, body)
		h.keys = append(h.keys, r.Header.Get(workflow.IdempotencyHeader))
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

// loopbackWebhooks is a webhook client that may reach this test's HTTPS
// server on loopback (and public addresses), trusting its certificate.
func loopbackWebhooks(srv *httptest.Server) *workflow.WebhookClient {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return workflow.NewWebhookClient(workflow.WebhookConfig{
		CheckAddr: func(ap netip.AddrPort) error {
			if ap.Addr().IsLoopback() {
				return nil
			}
			return workflow.PublicOnly(ap)
		},
		TLSConfig: &tls.Config{RootCAs: pool},
	})
}

// The webhook action posts the event, signed, with an idempotency key that
// is the same on the retry; a 5xx is retried and the retry does not post
// again once one succeeded; a 4xx is permanent.
func TestWebhookAction(t *testing.T) {
	reset(t)
	ctx := context.Background()
	hook := newHookServer(t, "s3cret", http.StatusServiceUnavailable, http.StatusOK, http.StatusBadRequest)
	app := newApp(t, appConfig{registry: workflow.RegistryConfig{Webhook: loopbackWebhooks(hook.Server)}})
	r := staleRule()
	r.Conditions = nil
	r.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionWebhook, workflow.Params{"url": hook.URL + "/in?token=x", "secret": "s3cret"})}
	rule, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	issue := newIssue(t, "Hooked", time.Now())
	ev := comment(t, issue, "ping")
	err = process(t, app.engine, ev, 1)
	if err == nil || inbox.IsPermanent(err) || !errors.Is(err, workflow.ErrWebhookFailed) {
		t.Fatalf("first attempt (503): %v", err)
	}
	if err := process(t, app.engine, ev, 2); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if err := process(t, app.engine, ev, 3); err != nil {
		t.Fatalf("duplicate: %v", err)
	}
	hook.mu.Lock()
	bodies, keys, bad := hook.bodies, hook.keys, hook.badSig
	hook.mu.Unlock()
	if len(bodies) != 2 || bad != 0 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("posts %d, bad signatures %d, keys %q", len(bodies), bad, keys)
	}
	var p workflow.WebhookPayload
	if err := json.Unmarshal(bodies[1], &p); err != nil {
		t.Fatal(err)
	}
	if p.Rule.ID != rule.ID || p.Event.ID != ev.ID || p.Event.Action != "comment_added" || p.Event.Actor.ID != "1" ||
		p.Event.Record == nil || p.Event.Record.Type != "comments" || p.IdempotencyKey != keys[0] || !strings.Contains(string(p.Event.Extra), "ping") {
		t.Errorf("payload: %s", bodies[1])
	}
	run, _ := runOf(t, app.rules, rule.ID, ev)
	a := run.Actions[0]
	if run.Status != workflow.RunDone || a.Status != workflow.ActionSent || a.Attempts != 2 || a.Result.Data["status"] != float64(200) ||
		strings.Contains(a.Result.Summary, "token") {
		t.Errorf("run: %+v, action %+v", run, a)
	}

	// 400: permanent, the run fails, the job goes to the dead letters.
	ev2 := comment(t, issue, "again")
	err = process(t, app.engine, ev2, 1)
	if !inbox.IsPermanent(err) {
		t.Fatalf("a 400 answer: %v", err)
	}
	run, _ = runOf(t, app.rules, rule.ID, ev2)
	if run.Status != workflow.RunFailed || !strings.Contains(run.Error, "status 400") || strings.Contains(run.Error, "token=x") {
		t.Errorf("run after a 400: %+v", run)
	}
}

// The post_slack action posts the rule's text, escaped, to the channel,
// through inbox/slack's client against a fake Slack Web API.
func TestSlackAction(t *testing.T) {
	reset(t)
	ctx := context.Background()
	srv := slacktest.Start(t, slacktest.Config{Token: "xoxb-test"})
	app := newApp(t, appConfig{registry: workflow.RegistryConfig{Slack: &workflow.SlackConfig{Token: "xoxb-test", APIURL: srv.APIURL()}}})
	r := staleRule()
	r.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionPostSlack, workflow.Params{"channel": "#support", "text": "Stale issue commented <!channel> & co"})}
	rule, err := app.rules.Create(ctx, "users:1", r)
	if err != nil {
		t.Fatal(err)
	}
	issue := newIssue(t, "Old", date("2020-01-01"))
	ev := comment(t, issue, "hello?")
	if err := process(t, app.engine, ev, 1); err != nil {
		t.Fatal(err)
	}
	if err := process(t, app.engine, ev, 2); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Channel != slacktest.ChannelID("#support") || msgs[0].Text != "Stale issue commented &lt;!channel&gt; &amp; co" {
		t.Fatalf("messages: %+v", msgs)
	}
	run, _ := runOf(t, app.rules, rule.ID, ev)
	if run.Actions[0].Status != workflow.ActionSent || run.Actions[0].Result.Data["ts"] != msgs[0].TS {
		t.Errorf("action run: %+v", run.Actions[0])
	}

	srv.FailNext(slacktest.MethodPostMessage, 1, slacktest.Failure{Error: "channel_not_found"})
	err = process(t, app.engine, comment(t, issue, "anyone?"), 1)
	if !inbox.IsPermanent(err) || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("channel_not_found: %v", err)
	}
}

// flakySender fails the first mail to one address, then sends through the
// real SMTP client.
type flakySender struct {
	real   *email.Sender
	failTo string
	failed atomic.Bool
}

func (s *flakySender) Send(ctx context.Context, m *email.Message) error {
	if m.To.Email == s.failTo && s.failed.CompareAndSwap(false, true) {
		return &email.SendError{MessageID: m.MessageID, Recipient: m.To.Email, Code: 451, Text: "try later"}
	}
	return s.real.Send(ctx, m)
}

// The send_email action mails each address once: a retry after one
// address failed does not mail the others again, and the Message-ID is
// the same on every attempt.
func TestEmailAction(t *testing.T) {
	reset(t)
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	real, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sender := &flakySender{real: real, failTo: "bo@example.com"}
	app := newApp(t, appConfig{registry: workflow.RegistryConfig{Email: &workflow.EmailConfig{Sender: sender, From: "Tidings <workflow@example.com>"}}})
	r := staleRule()
	r.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionSendEmail, workflow.Params{
		"to": []string{"ana@example.com", "bo@example.com"}, "subject": "Stale issue commented", "body": "Someone commented on an old issue.",
	})}
	if _, err := app.rules.Create(ctx, "users:1", r); err != nil {
		t.Fatal(err)
	}
	bad := r
	bad.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionSendEmail, workflow.Params{
		"to": []string{"Eve <eve@example.com>, mallory@example.com"}, "subject": "Hi\r\nBcc: mallory@example.com", "body": "x",
	})}
	_, err = app.rules.Create(ctx, "users:1", bad)
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Field != "actions[0].params.to[0]" || ve.Problems[1].Field != "actions[0].params.subject" {
		t.Fatalf("header injection: %v", err)
	}

	ev := comment(t, newIssue(t, "Old", date("2020-01-01")), "hello?")
	if err := process(t, app.engine, ev, 1); err == nil || inbox.IsPermanent(err) {
		t.Fatalf("first attempt: %v", err)
	}
	if err := process(t, app.engine, ev, 2); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	var to []string
	for _, m := range msgs {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"ana@example.com", "bo@example.com"}) {
		t.Fatalf("mailed %q, want each address once", to)
	}
	for _, m := range msgs {
		if m.Subject != "Stale issue commented" || !strings.Contains(m.Text, "Someone commented") || !strings.Contains(m.Header.Get("Message-Id"), "tidings-workflow-issue-") {
			t.Errorf("mail: %q %q %q", m.Subject, m.Text, m.Header.Get("Message-Id"))
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// PruneRuns deletes finished runs and their action runs, and keeps those a
// retry may resume.
func TestPruneRuns(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	if _, err := app.rules.Create(ctx, "users:1", staleRule()); err != nil {
		t.Fatal(err)
	}
	for _, created := range []string{"2020-01-01", "2024-01-01"} {
		ev := comment(t, newIssue(t, "x", date(created)), "hi")
		if err := process(t, app.engine, ev, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := testDB.Exec(`INSERT INTO workflow_runs (rule_id, rule_name, domain, event_id, event_action, subject_id, status, matched, started_at)
VALUES (1, 'x', 'issue', 999, 'comment_added', '1', 'failed', true, now() - interval '1 day')`).Error; err != nil {
		t.Fatal(err)
	}
	n, err := app.rules.PruneRuns(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d runs (%v), want 2", n, err)
	}
	if countRows(t, "workflow_runs") != 1 || countRows(t, "workflow_action_runs") != 0 {
		t.Errorf("left %d runs and %d action runs", countRows(t, "workflow_runs"), countRows(t, "workflow_action_runs"))
	}
}
