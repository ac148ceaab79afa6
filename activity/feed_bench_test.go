package activity_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// BenchmarkFeedPage times the first page of one subject's feed (20
// events, each with an actor and a record), with its actors and records
// loaded through ModelResolver and without resolvers. Besides ns/op and
// the client's garbage per page (B/op), it reports the p50 and p99 of
// the pages' latencies and the garbage collections per 1000 pages: on a
// small machine, the p99 is where a collection lands, so garbage is
// latency.
//
//	go test -run '^$' -bench FeedPage -benchtime 3000x ./activity/
func BenchmarkFeedPage(b *testing.B) {
	ctx := context.Background()
	i := Issue{Title: "hot"}
	if err := testDB.Create(&i).Error; err != nil {
		b.Fatal(err)
	}
	for n := range 20 {
		u := User{Name: fmt.Sprintf("User %d", n)}
		c := Comment{IssueID: i.ID, Body: "comment"}
		if err := testDB.Create(&u).Error; err != nil {
			b.Fatal(err)
		}
		if err := testDB.Create(&c).Error; err != nil {
			b.Fatal(err)
		}
		if _, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.Record(&c)); err != nil {
			b.Fatal(err)
		}
	}
	bare := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"}})
	for _, side := range []struct {
		name string
		d    *activity.Domain
	}{{"resolved", issues}, {"events", bare}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			var took []time.Duration
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for b.Loop() {
				t := time.Now()
				page, err := side.d.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Limit: 20})
				if err != nil || len(page.Entries) != 20 {
					b.Fatal(err, len(page.Entries))
				}
				took = append(took, time.Since(t))
			}
			runtime.ReadMemStats(&m1)
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(m1.NumGC-m0.NumGC)*1000/float64(len(took)), "gc/1000")
		})
	}
}
