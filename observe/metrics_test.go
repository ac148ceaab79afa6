package observe_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/observe"
)

// scrape gathers reg into "name{k=v,...}" -> value (a histogram gives its
// _count and _sum).
func scrape(t *testing.T, reg *prometheus.Registry) (map[string]float64, []*dto.MetricFamily) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[f.GetName()+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out, fams
}

// A known workload: 7 RecordEvent calls on the project domain (4 pledges,
// 1 refund, 1 view and its throttled repeat), 1 refused call (a typo'd
// action), fanned out to three inboxes: 6 deliveries to "books" (all
// done), 1 to "refunds" (fails for good: a dead letter), 1 to "views"
// (suppressed: nobody to tell). The scrape gives exactly these counts, and
// no label names a user, a subject or an event.
func TestMetricsAfterKnownWorkload(t *testing.T) {
	reset(t)
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(observe.MetricsConfig{Registerer: reg, DB: testDB, Redis: redis})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	projects := newProjects(m.Recording())

	books := inbox.Func("books", inbox.On("project"), func(context.Context, *inbox.Delivery) error { return nil })
	refunds := inbox.WithPolicy(inbox.Func("refunds", inbox.On("project", "refunded"), func(context.Context, *inbox.Delivery) error {
		return inbox.Permanent(errors.New("the payment provider refused the refund"))
	}), inbox.Policy{MaxRetry: inbox.NoRetry})
	views := inbox.Func("views", inbox.On("project", "viewed"), func(_ context.Context, d *inbox.Delivery) error {
		d.Suppress()
		return nil
	})
	w := startWorker(t, inbox.Config{
		Domains: []*activity.Domain{projects}, Inboxes: []inbox.Inbox{books, refunds, views},
		Middleware: []inbox.Middleware{m.Delivery()},
	})
	if err := m.Worker(w); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	users := []string{"u-1001", "u-1002", "u-1003", "u-1004"}
	rec := func(project, action, user string, opts ...activity.Option) activity.Result {
		t.Helper()
		opts = append(opts, activity.Actor(activity.Ref{Type: "users", ID: user, Label: "Backer " + user}))
		res, err := projects.RecordEvent(ctx, testDB, project, action, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var eventIDs []string
	for i, u := range users {
		eventIDs = append(eventIDs, activity.EventRef{ID: rec([]string{"p-alpha", "p-beta"}[i%2], "pledged", u).Event.ID}.String())
	}
	rec("p-alpha", "refunded", users[0])
	rec("p-beta", "viewed", users[1], activity.ThrottleWithin(time.Hour))
	if !rec("p-beta", "viewed", users[1], activity.ThrottleWithin(time.Hour)).Throttled {
		t.Fatal("the second view was not throttled")
	}
	if _, err := projects.RecordEvent(ctx, testDB, "p-alpha", "pledgd", activity.Actor(activity.Ref{Type: "users", ID: users[2]})); !errors.Is(err, activity.ErrUnknownAction) {
		t.Fatalf("a typo'd action: got %v, want ErrUnknownAction", err)
	}

	waitFor(t, 10*time.Second, "8 deliveries and the dead letter", func() bool {
		got, _ := scrape(t, reg)
		n := 0.0
		for k, v := range got {
			if strings.HasPrefix(k, "tidings_deliveries_total{") {
				n += v
			}
		}
		// asynq counts a task processed after the handler returned, and a
		// job can finish before the relay's transaction (which deletes its
		// outbox row and counts it) commits.
		return n == 8 && got["tidings_dead_letters{inbox=refunds}"] == 1 && got["asynq_tasks_processed_total{queue=tidings}"] == 8 &&
			got["tidings_relay_rows_total{}"] == 6 && got["tidings_outbox_rows{domain=project}"] == 0
	})
	got, fams := scrape(t, reg)
	want := map[string]float64{
		"tidings_events_recorded_total{action=pledged,domain=project,result=inserted}":   4,
		"tidings_events_recorded_total{action=pledged,domain=project,result=throttled}":  0,
		"tidings_events_recorded_total{action=pledged,domain=project,result=failed}":     0,
		"tidings_events_recorded_total{action=refunded,domain=project,result=inserted}":  1,
		"tidings_events_recorded_total{action=viewed,domain=project,result=inserted}":    1,
		"tidings_events_recorded_total{action=viewed,domain=project,result=throttled}":   1,
		"tidings_events_recorded_total{action=(unknown),domain=project,result=failed}":   1,
		"tidings_events_recorded_total{action=(unknown),domain=project,result=inserted}": 0,
		"tidings_deliveries_total{inbox=books,outcome=done}":                             6,
		"tidings_deliveries_total{inbox=books,outcome=dead}":                             0,
		"tidings_deliveries_total{inbox=refunds,outcome=dead}":                           1,
		"tidings_deliveries_total{inbox=refunds,outcome=done}":                           0,
		"tidings_deliveries_total{inbox=refunds,outcome=retried}":                        0,
		"tidings_deliveries_total{inbox=views,outcome=suppressed}":                       1,
		"tidings_deliveries_total{inbox=views,outcome=done}":                             0,
		"tidings_delivery_latency_seconds_count{inbox=books}":                            6,
		"tidings_delivery_latency_seconds_count{inbox=views}":                            1,
		"tidings_relay_rows_total{}":                                                     6,
		"tidings_relay_enqueued_total{}":                                                 8,
		"tidings_relay_duplicates_total{}":                                               0,
		"tidings_relay_enqueue_failures_total{}":                                         0,
		"tidings_dead_letters{inbox=refunds}":                                            1,
		"tidings_database_scrape_ok{}":                                                   1,
		"tidings_push_connections{}":                                                     0,
		"asynq_tasks_processed_total{queue=tidings}":                                     8,
		"asynq_tasks_failed_total{queue=tidings}":                                        1,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: missing from the scrape", k)
		} else if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	if _, ok := got["tidings_events_recorded_total{action=pledgd,domain=project,result=failed}"]; ok {
		t.Error("a typo'd action became a series of its own")
	}
	if got["tidings_outbox_rows{domain=project}"] != 0 {
		t.Errorf("outbox rows = %v after the drain", got["tidings_outbox_rows{domain=project}"])
	}
	if t.Failed() {
		t.Logf("relay stats %+v, worker counts %+v", w.Relay().Stats(), w.Metrics().Snapshot())
	}

	// Bounded cardinality: labels are only what code declares, and no
	// value is a user, a subject or an event.
	allowed := map[string]bool{"domain": true, "action": true, "result": true, "inbox": true, "outcome": true, "verdict": true, "type": true, "queue": true, "state": true}
	banned := append(append([]string{"p-alpha", "p-beta"}, users...), eventIDs...)
	for _, f := range fams {
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				if !allowed[l.GetName()] {
					t.Errorf("%s has a label %q outside the bounded set", f.GetName(), l.GetName())
				}
				for _, b := range banned {
					if strings.Contains(l.GetValue(), b) {
						t.Errorf("%s{%s=%q} names a user, subject or event", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

func TestMetricsNeedARegisterer(t *testing.T) {
	_, err := observe.NewMetrics(observe.MetricsConfig{})
	if !errors.Is(err, observe.ErrInvalidConfig) || !strings.Contains(err.Error(), "Registerer") {
		t.Fatalf("got %v, want an ErrInvalidConfig naming the Registerer", err)
	}
}
