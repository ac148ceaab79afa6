package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
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
		StaleEvery: time.Hour, TracerProvider: tp, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
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

	if _, err := app.rules.Create(ctx, "users:1", workflow.Rule{
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
	inboxes := []string{"process notify", "process email", "process slack", "process workflow"}
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		spans := inTrace()
		n := 0
		for _, s := range spans {
			if strings.HasPrefix(s.Name, "process ") {
				n++
			}
		}
		if n >= 2*len(inboxes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trace has %d delivery spans after 20s, want %d: %v", n, 2*len(inboxes), names(spans))
		}
		<-tick.C
	}
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
		if name == "process workflow" {
			workflowJob = s
		}
	}
	action := child(workflowJob, "workflow action reply")
	reply := child(action, "record issue comment_added")
	for _, name := range inboxes {
		child(reply, name)
	}

	// /metrics and /healthz, linked from the Queues page.
	for path, want := range map[string]string{
		"/metrics":    `tidings_events_recorded_total{action="comment_added",domain="issue",result="inserted"}`,
		"/healthz":    `"status":"ok"`,
		"/monitoring": `href="/metrics"`,
	} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, want 200 with %s in:\n%.2000s", path, resp.Status, want, body)
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
