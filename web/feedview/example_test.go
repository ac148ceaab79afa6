package feedview_test

import (
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/feedview"
)

// A feed page's entries as sentences, a run of labels folded into one.
func ExampleRenderer_Fold() {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	r := feedview.New(feedview.Config{Actions: map[string]feedview.Action{
		"label_added":   {Verb: "added", Object: feedview.RecordLabel, Fold: "added %d labels", Inline: true},
		"comment_added": {Verb: "commented"},
	}})
	entry := func(id int64, action, label string, ago time.Duration) activity.Entry {
		e := activity.Event{ID: id, Domain: "issue", SubjectID: "12", Action: action, ActorType: "users", ActorID: "1", ActorLabel: "Ana",
			OccurredAt: now.Add(-ago), Extra: []byte("{}")}
		if label != "" {
			typ, rid := "labels", fmt.Sprint(id)
			e.RecordType, e.RecordID, e.RecordLabel = &typ, &rid, &label
		}
		return activity.Entry{Event: e}
	}
	page := []activity.Entry{ // newest first, as Feed returns them
		entry(4, "comment_added", "", 2*time.Minute),
		entry(3, "label_added", "bug", 5*time.Minute),
		entry(2, "label_added", "ui", 6*time.Minute),
		entry(1, "label_added", "p1", 7*time.Minute),
	}
	for _, g := range r.Fold(r.Lines(page, nil)) {
		summary := g.First.Verb
		if g.First.Object != "" {
			summary += " " + g.First.Object
		}
		if g.Summary != "" {
			summary = g.Summary
		}
		fmt.Printf("%s %s · %s\n", g.First.ActorName, summary, feedview.Ago(now, g.First.OccurredAt))
	}
	// Output:
	// Ana commented · 2 min ago
	// Ana added 3 labels · 5 min ago
}
