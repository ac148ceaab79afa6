package activity_test

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// BenchmarkRecordEvent is one untraced RecordEvent, on the pool and in a
// caller's transaction, with the call of cmd/bench's record group: an
// actor and a record given as Refs and an extra of two keys. B/op and
// allocs/op are the client's own cost per call; the "system" sides are
// the smallest call (a named system actor, nothing else).
//
//	go test -run '^$' -bench RecordEvent -benchmem ./activity/
func BenchmarkRecordEvent(b *testing.B) {
	ctx := context.Background()
	i := Issue{Title: "bench"}
	if err := testDB.Create(&i).Error; err != nil {
		b.Fatal(err)
	}
	full := benchCallOptions()
	system := []activity.Option{activity.Actor(activity.System("bench"))}
	for _, side := range []struct {
		name string
		opts []activity.Option
		tx   bool
	}{{"pool", full, false}, {"tx", full, true}, {"pool-system", system, false}, {"tx-system", system, true}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			if !side.tx {
				for b.Loop() {
					if _, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added", side.opts...); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			// One transaction per 100 calls: the statement's own cost
			// dominates, not BEGIN and COMMIT's.
			var tx *gorm.DB
			n := 0
			for b.Loop() {
				if tx == nil {
					tx = testDB.Begin()
				}
				if _, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", side.opts...); err != nil {
					tx.Rollback()
					b.Fatal(err)
				}
				if n++; n%100 == 0 {
					tx.Commit()
					tx = nil
				}
			}
			if tx != nil {
				tx.Commit()
			}
		})
	}
}

// benchCallOptions are the options of cmd/bench's record call.
func benchCallOptions() []activity.Option {
	return []activity.Option{
		activity.Actor(activity.Ref{Type: "users", ID: "17", Label: "User 17"}),
		activity.Record(activity.Ref{Type: "comments", ID: "4242", Label: "Comment 4242"}),
		activity.Extra{"chars": 137, "lang": "en"},
	}
}
