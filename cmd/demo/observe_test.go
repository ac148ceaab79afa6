package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/workflow"
)

// One HTTP request that adds a comment, followed through an in-memory span
// exporter: the request's span is the parent of the comment's recording,
// which is the parent of each of its deliveries (in-app, email, Slack,
// workflow); the workflow's reply action is a child of its delivery, and
// the reply it records, and the reply's own deliveries, continue the same
// trace. Then /metrics and /healthz answer, and the Queues page links them.
func TestTraceFollowsARequestToEachDelivery(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_demo_trace")
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	if _, err := redistest.Flush(ctx, 6); err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)
	app, err := NewApp(ctx, Config{DSN: pgtest.DSN("tidings_test_demo_trace"), RedisAddr: redistest.Addr(), RedisDB: 6,
		StaleEvery: time.Hour, TracerProvider: tp, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	// The counters below count this test's rule only: the rule the demo
	// keeps in code goes before the engine starts.
	if rs, err := app.client.Rules().List(ctx, workflow.RuleQuery{}); err != nil {
		t.Fatal(err)
	} else {
		for _, r := range rs {
			if err := app.client.Rules().Delete(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptest.NewServer(app.Handler())
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
		app.Close()
	}()

	// The seed's events fan out first, before any rule exists: the
	// workflow counters below count this test's request only.
	waitUntil(t, 20*time.Second, "the seed's outbox drained", func() bool {
		var n int64
		if err := app.db.Table("activity_outbox").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	if _, err := app.client.Rules().Create(ctx, "users:1", workflow.Rule{
		Name: "Thank commenters", Domain: "issue", TriggeredOn: ActionCommentAdded, Enabled: true,
		Conditions: workflow.Conditions{workflow.Cond("extra.length", workflow.OpGt, 0)},
		Actions:    []workflow.RuleAction{workflow.Do(actionReply, workflow.Params{"message": "Thanks for the report!"})},
	}); err != nil {
		t.Fatal(err)
	}
	var issue Issue
	var user User
	if err := app.db.Order("id").Take(&issue).Error; err != nil {
		t.Fatal(err)
	}
	if err := app.db.Order("id").Take(&user).Error; err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path string, form url.Values) {
		t.Helper()
		resp, err := client.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	const commentsRecorded = `tidings_events_recorded_total{action="comment_added",domain="issue",result="inserted"}`
	_, before := get("/metrics")
	post("/session", url.Values{"user_id": {fmt.Sprint(user.ID)}, "back": {"/"}})
	exp.Reset() // the seed's and the session's spans
	post(fmt.Sprintf("/issues/%d/comments", issue.ID), url.Values{"body": {"The login page times out."}})

	// The request's trace.
	var root tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "POST /issues/{id}/comments" {
			root = s
		}
	}
	if !root.SpanContext.IsValid() || root.SpanKind != trace.SpanKindServer {
		t.Fatalf("no server span for the comment request: %v", names(exp.GetSpans()))
	}
	inTrace := func() []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID() == root.SpanContext.TraceID() {
				out = append(out, s)
			}
		}
		return out
	}
	inboxes := []string{"process notify", "process email", "process slack", "process workflow", "process webhooks"}
	waitUntil(t, 20*time.Second, "10 delivery spans and 2 recording spans in the request's trace", func() bool {
		n, records := 0, 0
		for _, s := range inTrace() {
			if slices.Contains(inboxes, s.Name) { // not process slack-digest, which only gathers
				n++
			}
			if s.Name == "record issue comment_added" { // recording spans end in groups (observe.TracingConfig.RecordingEndBatch)
				records++
			}
		}
		return n >= 2*len(inboxes) && records >= 2
	})
	spans := inTrace()
	byParent := map[trace.SpanID][]tracetest.SpanStub{}
	for _, s := range spans {
		byParent[s.Parent.SpanID()] = append(byParent[s.Parent.SpanID()], s)
	}
	child := func(parent tracetest.SpanStub, name string) tracetest.SpanStub {
		t.Helper()
		for _, s := range byParent[parent.SpanContext.SpanID()] {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("%q has no child %q; its children: %v; the trace: %v", parent.Name, name, names(byParent[parent.SpanContext.SpanID()]), names(spans))
		return tracetest.SpanStub{}
	}
	comment := child(root, "record issue comment_added")
	var workflowJob tracetest.SpanStub
	for _, name := range inboxes {
		s := child(comment, name)
		if s.SpanKind != trace.SpanKindConsumer {
			t.Errorf("%s kind %v, want consumer", name, s.SpanKind)
		}
		switch name {
		case "process workflow":
			workflowJob = s
		case "process slack":
			child(s, "send slack") // the post to the (fake) Slack API
		}
	}
	action := child(workflowJob, "workflow action reply")
	reply := child(action, "record issue comment_added")
	for _, name := range inboxes {
		child(reply, name)
	}

	// /metrics and /healthz, linked from the Queues page.
	// The workflow's counters: the comment matched the rule, the reply did
	// not (a rule ignores what workflows record), and the reply ran once.
	_, after := get("/metrics")
	if d := sample(t, after, commentsRecorded) - sample(t, before, commentsRecorded); d != 2 {
		t.Errorf("%s grew by %v, want 2 (the comment and the reply)", commentsRecorded, d)
	}
	for path, wants := range map[string][]string{
		"/metrics": {
			`tidings_workflow_rule_evaluations_total{action="comment_added",domain="issue",verdict="matched"} 1`,
			`tidings_workflow_rule_evaluations_total{action="comment_added",domain="issue",verdict="no_match"} 1`,
			`tidings_workflow_actions_total{outcome="done",type="reply"} 1`,
			`tidings_deliveries_total{inbox="workflow",outcome="done"} 2`,
		},
		"/healthz": {`"status":"ok"`, `"name":"redis"`, `"name":"relay_listen"`},
		opsPrefix:  {`href="/metrics"`, `href="/healthz"`},
	} {
		code, body := get(path)
		for _, want := range wants {
			if code != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("GET %s: %d, want 200 with %s in:\n%.3000s", path, code, want, grep(body, "tidings_"))
			}
		}
	}
}

func names(spans []tracetest.SpanStub) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

// grep keeps the lines of s containing sub (all of s when none do).
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return s
	}
	return strings.Join(out, "\n")
}

// sample returns the value of series in a Prometheus text exposition.
func sample(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the scrape", series)
	return 0
}

// waitUntil checks cond until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
}
