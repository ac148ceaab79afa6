package workflow

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// issueDomain is the domain the tests' rules react to.
func issueDomain(t testing.TB) *activity.Domain {
	t.Helper()
	d, err := activity.NewDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "status_changed", "labeled", "closed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// countingResolver serves fixed objects by id and counts its calls.
type countingResolver struct {
	mu      sync.Mutex
	objects map[string]map[string]any
	err     error
	calls   map[string]int
}

func newCountingResolver(objects map[string]map[string]any) *countingResolver {
	return &countingResolver{objects: objects, calls: map[string]int{}}
}

func (r *countingResolver) Resolve(ctx context.Context, id string) (map[string]any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id]++
	if r.err != nil {
		return nil, r.err
	}
	return r.objects[id], nil
}

func (r *countingResolver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

// fixture is a schema for the issue domain with a subject resolver and a
// comments record resolver.
type fixture struct {
	schema   *Schema
	issues   *countingResolver
	comments *countingResolver
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	oldCreated := date("2021-03-04")
	f := &fixture{
		issues: newCountingResolver(map[string]map[string]any{
			"1": { // an old issue
				"created_at": oldCreated,
				"title":      "Crash on start",
				"labels":     []string{"bug", "p1"},
				"closed":     false,
				"priority":   int64(2),
				"owner":      map[string]any{"email": "ana@example.com"},
				"closed_at":  (*time.Time)(nil),
			},
			"2": { // a new issue
				"created_at": date("2023-05-01"),
				"title":      "Add dark mode",
				"labels":     []any{"feature"},
				"closed":     true,
				"priority":   7.5,
				"closed_at":  &oldCreated,
			},
			"3": { // an issue whose resolver returns wrong types
				"created_at": 42,
				"title":      "x",
			},
		}),
		comments: newCountingResolver(map[string]map[string]any{
			"10": {"body": "This is still broken", "length": 20},
		}),
	}
	s, err := NewSchema(SchemaConfig{
		Domain: issueDomain(t),
		Subject: Object{
			Fields: Fields{
				"created_at":  Time,
				"closed_at":   Time,
				"title":       String,
				"labels":      ListOf(String),
				"closed":      Bool,
				"priority":    Number,
				"owner.email": String,
			},
			Resolver: f.issues,
		},
		Records: map[string]Object{
			"comments": {Fields: Fields{"body": String, "length": Number}, Resolver: f.comments},
		},
		Extra: Fields{
			"body":       String,
			"status":     ChangeOf(String),
			"count":      Number,
			"due_at":     Time,
			"urgent":     Bool,
			"tags":       ListOf(String),
			"meta.score": Number,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.schema = s
	return f
}

// event builds a comment_added event on subject, at a fixed time, with
// extra encoded from a map.
func event(subject string, extra map[string]any) activity.Event {
	raw, err := json.Marshal(extra)
	if err != nil {
		panic(err)
	}
	return activity.Event{
		ID:         100,
		Domain:     "issue",
		SubjectID:  subject,
		Action:     "comment_added",
		ActorType:  "users",
		ActorID:    "3",
		ActorLabel: "Ana",
		Extra:      raw,
		OccurredAt: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC),
	}
}

func withRecord(ev activity.Event, typ, id string) activity.Event {
	ev.RecordType, ev.RecordID = &typ, &id
	label := typ + " " + id
	ev.RecordLabel = &label
	return ev
}

// mustCompile compiles conditions or fails the test.
func (f *fixture) mustCompile(t testing.TB, conds ...Condition) *Matcher {
	t.Helper()
	m, err := f.schema.Compile(conds)
	if err != nil {
		t.Fatalf("compile %+v: %v", conds, err)
	}
	return m
}
