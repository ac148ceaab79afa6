package activity_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// TestRecordEventRefusesBadInput: each bad input gets an error that says
// what was wrong, testable with errors.Is/As, and nothing is written.
func TestRecordEventRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	actor := activity.Actor(&u)
	big := strings.Repeat("x", activity.DefaultMaxExtraBytes)

	cases := []struct {
		name     string
		subject  any
		action   string
		opts     []activity.Option
		sentinel error
		contains string
	}{
		{"unknown action", i.ID, "coment_added", []activity.Option{actor}, activity.ErrUnknownAction,
			`unknown action "coment_added" for domain issue; did you mean "comment_added"?`},
		{"unknown action, nothing close", i.ID, "deploy", []activity.Option{actor}, activity.ErrUnknownAction,
			"supported: comment_added, comment_deleted, comment_viewed, label_added"},
		{"zero subject", int64(0), "comment_added", []activity.Option{actor}, activity.ErrInvalidSubject, "is zero"},
		{"nil subject", nil, "comment_added", []activity.Option{actor}, activity.ErrInvalidSubject, "is nil"},
		{"wrong subject type", 4.2, "comment_added", []activity.Option{actor}, activity.ErrInvalidSubject, "pass an integer"},
		{"non-numeric subject string", "forty-two", "comment_added", []activity.Option{actor}, activity.ErrInvalidSubject, "not a decimal integer"},
		{"missing subject row", int64(math.MaxInt64), "comment_added", []activity.Option{actor}, activity.ErrInvalidSubject, "does not exist in issues"},
		{"unencodable extra", i.ID, "comment_added", []activity.Option{actor, activity.Extra{"f": func() {}}}, activity.ErrInvalidExtra, "cannot be encoded as JSON"},
		{"extra over limit", i.ID, "comment_added", []activity.Option{actor, activity.Extra{"big": big}}, activity.ErrInvalidExtra, "over the domain's limit of 65536"},
		{"extra not an object", i.ID, "comment_added", []activity.Option{actor, activity.ExtraOf([]int{1})}, activity.ErrInvalidExtra, "must encode as a JSON object"},
		{"negative throttle", i.ID, "comment_viewed", []activity.Option{actor, activity.ThrottleWithin(-time.Minute)}, activity.ErrInvalidOption, "ThrottleWithin(-1m0s): the window is negative"},
		{"actor without id", i.ID, "comment_added", []activity.Option{activity.Actor(activity.Ref{Type: "users"})}, activity.ErrInvalidRef, `actor reference "users:" has no id`},
		{"actor without type", i.ID, "comment_added", []activity.Option{activity.Actor(activity.Ref{ID: "3"})}, activity.ErrInvalidRef, "has no type"},
		{"unsaved actor model", i.ID, "comment_added", []activity.Option{activity.Actor(&User{Name: "new"})}, activity.ErrInvalidRef, "has no id"},
		{"record without type", i.ID, "comment_added", []activity.Option{actor, activity.Record(activity.Ref{ID: "9"})}, activity.ErrInvalidRef, "record reference"},
		{"record not a model", i.ID, "comment_added", []activity.Option{actor, activity.Record(42)}, activity.ErrInvalidRef, "pass a gorm model"},
		{"no actor", i.ID, "comment_added", nil, activity.ErrNoActor, "no actor"},
		{"bad source", i.ID, "comment_added", []activity.Option{actor, activity.Meta(activity.Metadata{Source: "Web UI"})}, activity.ErrInvalidOption, "lower-case word"},
		{"bad ip", i.ID, "comment_added", []activity.Option{actor, activity.Meta(activity.Metadata{IP: "1.2.3.4:80"})}, activity.ErrInvalidOption, "not an IP address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := issues.RecordEvent(ctx, testDB, tc.subject, tc.action, tc.opts...)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want it to contain %q", err, tc.contains)
			}
			if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
				t.Errorf("refused call wrote %d events, %d outbox rows", ev, ob)
			}
		})
	}

	t.Run("nil db", func(t *testing.T) {
		if _, err := issues.RecordEvent(ctx, nil, i.ID, "comment_added", actor); !errors.Is(err, activity.ErrNilDB) {
			t.Fatalf("err = %v, want ErrNilDB", err)
		}
	})

	t.Run("typed errors carry fields", func(t *testing.T) {
		_, err := issues.RecordEvent(ctx, testDB, i.ID, "label_aded", actor)
		var ua *activity.UnknownActionError
		if !errors.As(err, &ua) || ua.Domain != "issue" || ua.Action != "label_aded" || ua.Suggestion != "label_added" {
			t.Errorf("UnknownActionError = %+v", ua)
		}
		_, err = issues.RecordEvent(ctx, testDB, i.ID, "comment_added", actor, activity.Extra{"big": big})
		var ee *activity.ExtraError
		if !errors.As(err, &ee) || ee.Limit != activity.DefaultMaxExtraBytes || ee.Size <= ee.Limit {
			t.Errorf("ExtraError = %+v", ee)
		}
	})

	t.Run("causation depth", func(t *testing.T) {
		deep := activity.WithCause(ctx, activity.Cause{Event: activity.EventRef{Domain: "issue", ID: 1}, Depth: activity.DefaultMaxDepth})
		_, err := issues.RecordEvent(deep, testDB, i.ID, "comment_added", actor)
		var de *activity.DepthError
		if !errors.Is(err, activity.ErrCausationDepth) || !errors.As(err, &de) || de.Depth != activity.DefaultMaxDepth+1 {
			t.Fatalf("err = %v, want a DepthError at depth %d", err, activity.DefaultMaxDepth+1)
		}
		if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
			t.Errorf("refused call wrote %d events, %d outbox rows", ev, ob)
		}
	})
}

func TestNewDomainRefusesBadDeclarations(t *testing.T) {
	cases := []struct {
		name     string
		cfg      activity.DomainConfig
		contains string
	}{
		{"empty name", activity.DomainConfig{Actions: []string{"a"}}, `domain "": Name is not allowed`},
		{"unsafe name", activity.DomainConfig{Name: "issue; DROP TABLE users", Actions: []string{"a"}}, "Name is not allowed"},
		{"upper-case name", activity.DomainConfig{Name: "Issue", Actions: []string{"a"}}, "Name is not allowed"},
		{"unsafe table", activity.DomainConfig{Name: "issue", Table: `issue"events`, Actions: []string{"a"}}, "not a safe SQL identifier"},
		{"unsafe subject table", activity.DomainConfig{Name: "issue", Subject: activity.Subject{Table: "public.issues"}, Actions: []string{"a"}}, "Subject.Table"},
		{"bad key type", activity.DomainConfig{Name: "issue", Subject: activity.Subject{KeyType: "int4"}, Actions: []string{"a"}}, "Subject.KeyType"},
		{"no actions", activity.DomainConfig{Name: "issue"}, "Actions is empty"},
		{"duplicate action", activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "comment_added"}}, `Actions[1] "comment_added" is declared twice`},
		{"invalid action", activity.DomainConfig{Name: "issue", Actions: []string{"comment added"}}, "is not a valid action"},
		{"negative extra limit", activity.DomainConfig{Name: "issue", Actions: []string{"a"}, MaxExtraBytes: -1}, "MaxExtraBytes is negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := activity.NewDomain(tc.cfg)
			if !errors.Is(err, activity.ErrInvalidDomain) || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %v, want ErrInvalidDomain containing %q", err, tc.contains)
			}
		})
	}
}
