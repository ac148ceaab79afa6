package feedview_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/feedview"
)

var t0 = time.Date(2026, 11, 17, 9, 0, 0, 0, time.UTC)

func entry(id int64, subject, action, actor string, at time.Time, extra string) activity.Entry {
	if extra == "" {
		extra = "{}"
	}
	return activity.Entry{Event: activity.Event{ID: id, Domain: "issue", SubjectID: subject, Action: action,
		ActorType: "users", ActorID: actor, ActorLabel: "User " + actor, OccurredAt: at, Extra: json.RawMessage(extra)}}
}

func renderer() *feedview.Renderer {
	return feedview.New(feedview.Config{
		Actions: map[string]feedview.Action{
			"label_added":  {Icon: "⚑", Verb: "added the label", Object: feedview.ExtraString("name"), Fold: "added %d labels", Inline: true},
			"issue_opened": {Verb: "opened the issue", Object: feedview.ExtraString("title"), AboutSubject: true},
		},
		Permalink:   func(e activity.Entry) string { return fmt.Sprintf("/events/%d", e.ID) },
		SubjectHref: func(_, id string) string { return "/issues/" + id },
	})
}

// Runs of one foldable action by one actor on one subject fold; a pause,
// another actor or another subject starts a new line.
func TestFold(t *testing.T) {
	r := renderer()
	lines := r.Lines([]activity.Entry{
		entry(5, "1", "label_added", "1", t0.Add(50*time.Minute), `{"name":"p1"}`),
		entry(4, "1", "label_added", "1", t0.Add(40*time.Minute), `{"name":"bug"}`),
		entry(3, "1", "label_added", "1", t0.Add(30*time.Minute), `{"name":"ui"}`),
		entry(2, "1", "label_added", "2", t0.Add(20*time.Minute), `{"name":"x"}`),
		entry(1, "1", "label_added", "2", t0.Add(-2*time.Hour), `{"name":"y"}`),
	}, nil)
	groups := r.Fold(lines)
	if len(groups) != 3 || groups[0].Summary != "added 3 labels" || !groups[0].Inline || len(groups[0].Items) != 3 {
		t.Fatalf("groups %+v", groups)
	}
	if groups[1].Summary != "" || groups[2].Summary != "" {
		t.Errorf("a pause over the gap folded: %+v", groups[1:])
	}
	if groups[0].First.Href != "/events/5" || groups[0].First.Object != "p1" || groups[0].First.Icon != "⚑" {
		t.Errorf("line %+v", groups[0].First)
	}
}

// Across subjects a line names its subject, unless the object is the
// subject ("opened the issue X", not "opened the issue X on X").
func TestAcrossSubjects(t *testing.T) {
	r := renderer()
	titles := map[string]string{"1": "Login fails"}
	opened := r.Line(entry(1, "1", "issue_opened", "1", t0, `{"title":"Login fails"}`), titles)
	if opened.Object != "Login fails" || opened.Subject != "" {
		t.Errorf("opened: object %q, subject %q; want the title once", opened.Object, opened.Subject)
	}
	label := r.Line(entry(2, "1", "label_added", "1", t0, `{"name":"bug"}`), titles)
	if label.Subject != "Login fails" || label.SubjectHref != "/issues/1" {
		t.Errorf("label: subject %q %q", label.Subject, label.SubjectHref)
	}
	unknown := r.Line(entry(3, "9", "closed", "1", t0, ""), titles)
	if unknown.Subject != "#9" || unknown.Verb != "closed" || unknown.Icon != "•" {
		t.Errorf("an undeclared action on an unnamed subject: %+v", unknown)
	}
}

func TestAgo(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "just now"}, {10 * time.Second, "just now"}, {3 * time.Minute, "3 min ago"},
		{2 * time.Hour, "2 h ago"}, {30 * time.Hour, "yesterday"}, {5 * 24 * time.Hour, "5 days ago"},
		{60 * 24 * time.Hour, "18 Sep 2026"},
	} {
		if got := feedview.Ago(t0, t0.Add(-c.d)); got != c.want {
			t.Errorf("Ago(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
