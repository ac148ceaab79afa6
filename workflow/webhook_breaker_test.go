package workflow_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/observe"
	"github.com/tidingsdev/tidings/workflow"
)

// The webhook action's receiver is a sink like an inbox's: a real HTTPS
// receiver on loopback that refuses our requests (401) shows in the
// worker's breakers and health as refusing the configuration, with the
// reason; one that answers again clears it; one that is down opens the
// sink's breaker (health down) as an SMTP server that does not answer
// does (health degraded: its deliveries are held, not lost).
func TestWebhookActionReceiverInTheBreakers(t *testing.T) {
	reset(t)
	ctx := context.Background()
	hook := newHookServer(t, "s3cret", http.StatusUnauthorized) // then 200
	app := newApp(t, appConfig{registry: workflow.RegistryConfig{Webhook: loopbackWebhooks(hook.Server)}})
	r := staleRule()
	r.Conditions = nil
	r.Actions = []workflow.RuleAction{workflow.Do(workflow.ActionWebhook, workflow.Params{"url": hook.URL + "/in?token=x", "secret": "s3cret"})}
	if _, err := app.rules.Create(ctx, "users:1", r); err != nil {
		t.Fatal(err)
	}
	w, err := inbox.NewWorker(inbox.Config{
		DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{app.engine},
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
		Breakers:                 inbox.BreakerConfig{Failures: 1, OpenFor: time.Minute},
		Logger:                   testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	sink := webhook.Sink(hook.URL)
	breaker := func() inbox.BreakerState {
		for _, b := range w.Breakers() {
			if b.Sink == sink {
				return b
			}
		}
		return inbox.BreakerState{}
	}
	issue := newIssue(t, "Hooked", time.Now())

	// 401: a refusal of the setup, reported with its reason.
	comment(t, issue, "refused")
	waitFor(t, 20*time.Second, "the breaker to record the refusal", func() bool { return breaker().Misconfigured != "" })
	if b := breaker(); !strings.Contains(b.Misconfigured, "HTTP 401") || b.State != inbox.BreakerClosed {
		t.Errorf("breaker %+v; want closed, misconfigured by the 401", b)
	}
	health := observe.BreakersCheck(w)
	if h := health.Check(ctx); h.Status != observe.StatusDown || !strings.Contains(h.Detail, sink) || !strings.Contains(h.Detail, "HTTP 401") {
		t.Errorf("health %+v; want down naming %s and the 401", h, sink)
	}
	if strings.Contains(breaker().LastError, "token=x") {
		t.Errorf("the breaker's last error shows the URL's query: %q", breaker().LastError)
	}

	// It answers again: the refusal is cleared.
	comment(t, issue, "accepted")
	waitFor(t, 20*time.Second, "the breaker to clear the refusal", func() bool { return breaker().Misconfigured == "" })
	if h := health.Check(ctx); h.Status != observe.StatusOK {
		t.Errorf("health %+v after the receiver accepted a post; want ok", h)
	}

	// Down: an outage of the sink, its breaker opens.
	hook.Close()
	comment(t, issue, "unanswered")
	waitFor(t, 20*time.Second, "the breaker to open", func() bool { return breaker().State == inbox.BreakerOpen })
	if h := health.Check(ctx); h.Status != observe.StatusDegraded || !strings.Contains(h.Detail, sink) {
		t.Errorf("health %+v with the receiver down; want degraded (an open breaker) naming %s", h, sink)
	}
}
