package activity_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tidingsdev/tidings/activity"
)

// BenchmarkEventsByID loads events by primary key as the inbox worker's
// loader does (the events of the jobs running at once, in one query), on
// the pool: n events of an app's usual fields (actor and record labels,
// request metadata, an extra of two keys). B/op and allocs/op are per
// call, the client's cost of a lookup.
//
//	go test -run '^$' -bench EventsByID -benchmem ./activity/
func BenchmarkEventsByID(b *testing.B) {
	ctx := activity.WithMetadata(context.Background(), activity.Metadata{RequestID: "req-1", Source: "web", IP: "10.0.3.7",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"})
	i := Issue{Title: "bench"}
	if err := testDB.Create(&i).Error; err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for k := range 20 {
		res, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added",
			activity.Actor(activity.Ref{Type: "users", ID: fmt.Sprint(k), Label: fmt.Sprintf("User %d", k)}),
			activity.Record(activity.Ref{Type: "comments", ID: fmt.Sprint(k), Label: fmt.Sprintf("Comment %d", k)}),
			activity.Extra{"body": "A comment of a few words, as people write them", "mentions": []int{k}})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, res.Event.ID)
	}
	all := activity.AcrossTenants(context.Background())
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				evs, err := issues.EventsByID(all, testDB, ids[:n])
				if err != nil || len(evs) != n {
					b.Fatal(len(evs), err)
				}
			}
		})
	}
}
