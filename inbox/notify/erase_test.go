package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// Erasing a person masks them among a collapsed notification's actors,
// found by their key even when the label they had is not among the
// values given, while the row's newest actor, someone else, stays.
func TestErasePersonMasksCollapsedActors(t *testing.T) { eraseCollapsedActors(t, false) }

// The same with a list written before activity.Ref had its JSON tags
// ("Type", "ID", "Label" keys): the person is found and masked there too.
func TestErasePersonMasksLegacyCollapsedActors(t *testing.T) { eraseCollapsedActors(t, true) }

func eraseCollapsedActors(t *testing.T, legacy bool) {
	ctx := context.Background()
	p, issue := setup(t) // Ana wrote it; Bo and Cy follow it
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, db, id(p.ana), inbox.ChannelApp, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(time.Hour))); err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Name: "notify-erase", Accepts: inbox.On("issue"), Recipients: authorAndSubscribers, Defaults: defaults, Batching: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []activity.Ref{user(p.bo, "Bo Vieira"), user(p.cy, "Cy")} {
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(who))
		if err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, db, n, res.Event); err != nil {
			t.Fatal(err)
		}
	}
	if legacy {
		err := db.Exec(`UPDATE notifications SET actors = (SELECT jsonb_agg(jsonb_build_object('Type', a->>'type', 'ID', a->>'id', 'Label', a->>'label') ORDER BY i)
  FROM jsonb_array_elements(actors) WITH ORDINALITY AS e(a, i)) WHERE recipient = ? AND actors IS NOT NULL`, id(p.ana)).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	// Bo's key only: the label "Bo Vieira" is not passed.
	if _, err := notify.ErasePerson(ctx, db, activity.Person{Type: "users", ID: id(p.bo)}); err != nil {
		t.Fatal(err)
	}
	page, err := notify.List(ctx, db, notify.Query{Recipient: id(p.ana)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Notifications) != 1 {
		t.Fatalf("Ana has %d rows, want one collapsed row", len(page.Notifications))
	}
	row := page.Notifications[0]
	want := []activity.Ref{user(p.cy, "Cy"), user(p.bo, activity.ErasedLabel)}
	if len(row.Actors) != 2 || row.Actors[0] != want[0] || row.Actors[1] != want[1] || row.Actor != want[0] {
		var got []string
		for _, a := range row.Actors {
			got = append(got, a.String()+" "+a.Label)
		}
		t.Errorf("actors %q, actor label %q after erasing Bo; want Cy, then Bo as %q", got, row.Actor.Label, activity.ErasedLabel)
	}
}
