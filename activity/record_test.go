package activity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

func TestRecordEvent(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	c := Comment{IssueID: i.ID, Body: "It fails on Safari"}
	testDB.Create(&c)

	res, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added",
		activity.Actor(&u), activity.Record(&c), activity.Extra{"length": 18})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Event
	if res.Throttled {
		t.Error("first call reported Throttled")
	}
	if e.ID == 0 || e.Domain != "issue" || e.Action != "comment_added" || e.SubjectID != itoa(i.ID) {
		t.Errorf("event = %+v", e)
	}
	if e.ActorType != "users" || e.ActorID != itoa(u.ID) || e.ActorLabel != "Ana" {
		t.Errorf("actor = %v %q", e.Actor(), e.ActorLabel)
	}
	if r := e.Record(); r == nil || r.Type != "comments" || r.ID != itoa(c.ID) || r.Label != "It fails on Safari" {
		t.Errorf("record = %+v", r)
	}
	if got := e.ExtraMap()["length"]; got != float64(18) {
		t.Errorf("extra length = %v", got)
	}
	if !e.OccurredAt.Equal(clock.Now()) {
		t.Errorf("occurred_at = %v, want the injected clock's %v", e.OccurredAt, clock.Now())
	}
	if ev, ob := counts(t, i.ID); ev != 1 || ob != 1 {
		t.Errorf("rows: %d events, %d outbox; want 1 and 1", ev, ob)
	}
	got, err := issues.Event(ctx, testDB, e.ID)
	if err != nil || got.ID != e.ID || got.Action != e.Action {
		t.Errorf("Event(%d) = %v, %v", e.ID, got, err)
	}
	if _, err := issues.Event(ctx, testDB, -1); !errors.Is(err, activity.ErrEventNotFound) {
		t.Errorf("Event(-1) err = %v, want ErrEventNotFound", err)
	}
}

func TestRecordEventMetadataFromContext(t *testing.T) {
	u, i := fixture(t)
	ctx := activity.WithActor(context.Background(), &u)
	ctx = activity.WithMetadata(ctx, activity.Metadata{RequestID: "req-1", Source: "web", IP: "203.0.113.9", UserAgent: "Firefox"})

	res, err := issues.RecordEvent(ctx, testDB, i.ID, "label_added", activity.Extra{"name": "bug"},
		activity.Meta(activity.Metadata{Source: "api"}))
	if err != nil {
		t.Fatal(err)
	}
	e := res.Event
	if e.ActorID != itoa(u.ID) {
		t.Errorf("actor from context: got %v", e.Actor())
	}
	if deref(e.RequestID) != "req-1" || deref(e.CorrelationID) != "req-1" || deref(e.Source) != "api" ||
		deref(e.IP) != "203.0.113.9" || deref(e.UserAgent) != "Firefox" {
		t.Errorf("metadata: request %q correlation %q source %q ip %q ua %q",
			deref(e.RequestID), deref(e.CorrelationID), deref(e.Source), deref(e.IP), deref(e.UserAgent))
	}

	// An event recorded while handling e carries e as its cause.
	jobCtx := activity.WithCause(context.Background(), activity.CauseOf(e))
	res2, err := issues.RecordEvent(jobCtx, testDB, i.ID, "comment_added", activity.Actor(activity.System("workflow")))
	if err != nil {
		t.Fatal(err)
	}
	cause, ok := res2.Event.Cause()
	if !ok || cause != e.Ref() || res2.Event.Depth != 1 || deref(res2.Event.CorrelationID) != "req-1" || deref(res2.Event.Source) != "job" {
		t.Errorf("caused event: cause %v %v depth %d correlation %q source %q",
			cause, ok, res2.Event.Depth, deref(res2.Event.CorrelationID), deref(res2.Event.Source))
	}
}

func TestRecordEventUUIDSubject(t *testing.T) {
	ctx := context.Background()
	id := "6f1c1a52-3b8e-4b7e-9a43-2f5d0c1e9a10"
	if err := testDB.Exec("INSERT INTO accounts (id, name) VALUES (?, 'Acme') ON CONFLICT (id) DO NOTHING", id).Error; err != nil { // a run before this one (-count) left it
		t.Fatal(err)
	}
	res, err := accounts.RecordEvent(ctx, testDB, id, "renamed", activity.Actor(activity.Ref{Type: "users", ID: "a1b2"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Event.SubjectID != id {
		t.Errorf("subject = %q", res.Event.SubjectID)
	}
	var bytes [16]byte
	if _, err := accounts.RecordEvent(ctx, testDB, bytes, "renamed", activity.Actor(activity.System("system"))); !errors.Is(err, activity.ErrInvalidSubject) {
		t.Errorf("zero UUID: err = %v", err)
	}
}

func TestRecordEventJoinsTransaction(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)

	t.Run("rollback", func(t *testing.T) {
		tx := testDB.Begin()
		res, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u))
		if err != nil {
			t.Fatal(err)
		}
		// Inside the transaction the event is visible...
		if _, err := issues.Event(ctx, tx, res.Event.ID); err != nil {
			t.Fatalf("event not visible inside its transaction: %v", err)
		}
		// ...and outside it is not, until commit.
		if _, err := issues.Event(ctx, testDB, res.Event.ID); !errors.Is(err, activity.ErrEventNotFound) {
			t.Fatalf("event visible outside its uncommitted transaction: %v", err)
		}
		tx.Rollback()
		if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
			t.Errorf("after rollback: %d events, %d outbox rows; want none", ev, ob)
		}
	})

	t.Run("savepoint rollback", func(t *testing.T) {
		err := testDB.Transaction(func(tx *gorm.DB) error {
			if _, err := issues.RecordEvent(ctx, tx, i.ID, "label_added", activity.Actor(&u)); err != nil {
				return err
			}
			// A nested transaction is a savepoint; it fails and rolls back.
			nested := tx.Transaction(func(tx2 *gorm.DB) error {
				if _, err := issues.RecordEvent(ctx, tx2, i.ID, "comment_added", activity.Actor(&u)); err != nil {
					return err
				}
				return errors.New("abandon the comment")
			})
			if nested == nil {
				t.Error("nested transaction did not fail")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		testDB.Table("issue_events").Where("subject_id = ?", i.ID).Pluck("action", &actions)
		if ev, ob := counts(t, i.ID); ev != 1 || ob != 1 || len(actions) != 1 || actions[0] != "label_added" {
			t.Errorf("after savepoint rollback: %d events %v, %d outbox rows; want only label_added with its outbox row", ev, actions, ob)
		}
	})
}

func itoa(n int64) string { return fmtInt(n) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var _ = time.Second
