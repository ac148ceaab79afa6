package activity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// The domains of TestRecordEventReturnsTheRow: every key type as subject
// and as tenant, with and without the subject's foreign key, so that every
// form of the insert statement (checked or not, tenanted or not) runs. The
// clock has nanoseconds, which PostgreSQL does not keep, in a zone that is
// neither UTC nor the local one.
var (
	readbackClock = func() time.Time {
		return time.Date(2026, 11, 23, 12, 0, 0, 987654321, time.FixedZone("plus0530", 5*3600+30*60))
	}
	readbackDomains = []*activity.Domain{
		activity.MustDomain(activity.DomainConfig{Name: "rb_plain", Subject: activity.Subject{Table: "issues"},
			Actions: []string{"noted"}, Now: readbackClock, Resolvers: map[string]activity.Resolver{"users": activity.ModelResolver[User]()}}),
		activity.MustDomain(activity.DomainConfig{Name: "rb_cascade", Subject: activity.Subject{Table: "issues"}, OnSubjectDelete: activity.Cascade,
			Tenant: activity.KeyBigint, Actions: []string{"noted"}, Now: readbackClock, Resolvers: map[string]activity.Resolver{"users": activity.ModelResolver[User]()}}),
		activity.MustDomain(activity.DomainConfig{Name: "rb_uuid", Subject: activity.Subject{Table: "accounts", KeyType: activity.KeyUUID},
			Tenant: activity.KeyUUID, Actions: []string{"noted"}, Now: readbackClock, Resolvers: map[string]activity.Resolver{"users": activity.ModelResolver[User]()}}),
		activity.MustDomain(activity.DomainConfig{Name: "rb_text", Subject: activity.Subject{Table: "rb_slugs", Key: "slug", KeyType: activity.KeyText},
			Tenant: activity.KeyText, Actions: []string{"noted"}, Now: readbackClock, Resolvers: map[string]activity.Resolver{"users": activity.ModelResolver[User]()}}),
	}
	readbackOnce sync.Once
)

// TestRecordEventReturnsTheRow: the event RecordEvent returns is the row
// as any read gives it back, field for field (reflect.DeepEqual: times to
// the microsecond and in the same zone, extra as jsonb writes it, the
// address as inet does, tags, tenant, labels cut as stored), for varied
// calls, on the pool and in a transaction, throttled or not. The insert
// statement returns only what the database decides and the rest is filled
// from what was sent, so any difference between the two is a bug there.
func TestRecordEventReturnsTheRow(t *testing.T) {
	readbackOnce.Do(func() {
		if err := testDB.Exec(`CREATE TABLE IF NOT EXISTS rb_slugs (slug text PRIMARY KEY)`).Error; err != nil {
			t.Fatal(err)
		}
		for _, d := range readbackDomains {
			up, _ := activity.MigrationSQL(d)
			if err := testDB.Exec(up).Error; err != nil {
				t.Fatal(err)
			}
		}
	})
	u, _ := fixture(t)
	long := User{Name: strings.Repeat("é", activity.MaxLabelBytes)} // cut to MaxLabelBytes, on a rune boundary
	if err := testDB.Create(&long).Error; err != nil {
		t.Fatal(err)
	}
	// A fresh subject per call: a throttled call's first event is new.
	subject := func(t *testing.T, d *activity.Domain) any {
		var i Issue
		if err := testDB.Create(&i).Error; err != nil {
			t.Fatal(err)
		}
		switch d.Name() {
		case "rb_uuid":
			account := fmt.Sprintf("0A1B2C3D-0000-4000-8000-%012X", i.ID) // upper case: stored and returned in lower case
			if err := testDB.Exec(`INSERT INTO accounts (id, name) VALUES (?, 'Acme')`, account).Error; err != nil {
				t.Fatal(err)
			}
			return account
		case "rb_text":
			slug := fmt.Sprintf(" Slug %d ", i.ID) // text keys are kept as they are
			if err := testDB.Exec(`INSERT INTO rb_slugs VALUES (?)`, slug).Error; err != nil {
				t.Fatal(err)
			}
			return slug
		case "rb_cascade":
			return &i.ID
		}
		return fmt.Sprint(i.ID)
	}
	tenants := map[string]any{"rb_cascade": uint16(7), "rb_uuid": [16]byte{0xAB, 15: 0xCD}, "rb_text": "Globex Ltd"}

	at := time.Date(2001, 2, 3, 4, 5, 6, 999999999, time.FixedZone("minus3", -3*3600)) // cut, not rounded
	cases := []struct {
		name string
		ctx  func(context.Context) context.Context
		opts []activity.Option
	}{
		{"smallest", nil, []activity.Option{activity.Actor(activity.System("rb"))}},
		{"full", nil, []activity.Option{
			activity.Actor(activity.Ref{Type: "users", ID: "17", Label: "Zoë \"Z\" <z@example.org>"}),
			activity.Record(activity.Ref{Type: "comments", ID: "4242", Label: ""}),
			activity.ExtraOf(json.RawMessage(" {\"b\": [1.50, 1e2, -0, {\"z\": null, \"a\": \"\\u00e9\\n\"}], \"a\": 1, \"a\": 2.0E-3 } ")),
			activity.OccurredAt(at),
			activity.Meta(activity.Metadata{RequestID: "req-1", Source: "api", IP: "::FFFF:192.0.2.1",
				UserAgent: strings.Repeat("ü", 300), TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
				Tags: map[string]string{"ticket": "SUP-1", "op": "ana ✓"}}),
		}},
		{"context", func(ctx context.Context) context.Context {
			ctx = activity.WithActor(ctx, &long)
			ctx = activity.WithMetadata(ctx, activity.Metadata{RequestID: "req-2", IP: "2001:DB8:0:0:0:0:0:1", Tags: map[string]string{"ticket": "SUP-2"}})
			return activity.WithCause(ctx, activity.Cause{Event: activity.EventRef{Domain: "issue", ID: 77}, Depth: 2, CorrelationID: "corr-9"})
		}, []activity.Option{activity.Extra{"html": "<b>&</b>", "big": uint64(12345678901234567890), "f": 0.1, "nested": map[string]any{"n": nil}}}},
		{"model actor", nil, []activity.Option{activity.Actor(&u), activity.Extra(nil), activity.OccurredAt(time.Unix(0, 1).UTC()),
			// PostgreSQL writes ::1.2.3.4 as it is, Go as ::102:304
			activity.Meta(activity.Metadata{IP: "::1.2.3.4", CorrelationID: "c-3"})}},
	}
	recorded := map[*activity.Domain][]int64{}
	for _, d := range readbackDomains {
		for _, c := range cases {
			for _, inTx := range []bool{false, true} {
				for _, throttled := range []bool{false, true} {
					if throttled && c.name != "smallest" && c.name != "context" {
						continue // OccurredAt cannot be combined with a throttle window
					}
					name := fmt.Sprintf("%s/%s/tx=%v/throttled=%v", d.Name(), c.name, inTx, throttled)
					t.Run(name, func(t *testing.T) {
						ctx := context.Background()
						if tn, ok := tenants[d.Name()]; ok {
							ctx = activity.WithTenant(ctx, tn)
						}
						if c.ctx != nil {
							ctx = c.ctx(ctx)
						}
						opts := c.opts
						if throttled {
							opts = append(opts[:len(opts):len(opts)], activity.ThrottleWithin(time.Hour))
						}
						db := testDB
						if inTx {
							db = testDB.Begin()
							defer db.Rollback()
						}
						subj := subject(t, d)
						var got []activity.Result
						for range 1 + b2i(throttled) { // throttled: the insert, then the repeat
							res, err := d.RecordEvent(ctx, db, subj, "noted", opts...)
							if err != nil {
								t.Fatal(err)
							}
							got = append(got, res)
							if !inTx && !res.Throttled {
								recorded[d] = append(recorded[d], res.Event.ID)
							}
							back, err := d.EventsByID(ctx, db, []int64{res.Event.ID})
							if err != nil {
								t.Fatal(err)
							}
							sameEvent(t, "read back in the same session", res.Event, back[res.Event.ID])
						}
						if throttled && (got[0].Throttled || !got[1].Throttled || got[1].Event.ID != got[0].Event.ID) {
							t.Fatalf("throttled calls: %+v", got)
						}
						last := got[len(got)-1].Event
						if inTx {
							if err := db.Commit().Error; err != nil {
								t.Fatal(err)
							}
						}
						back, err := d.Event(ctx, testDB, last.ID)
						if err != nil {
							t.Fatal(err)
						}
						sameEvent(t, "read back on the pool", last, back)
						if !throttled && c.name == "full" && (back.OccurredAt.Nanosecond() != 999999000 || !back.OccurredAt.Equal(at.Truncate(time.Microsecond))) {
							t.Errorf("occurred at %v stored as %v", at, back.OccurredAt)
						}
					})
				}
			}
		}
	}
	// Reads on the pool decode rows by hand (rowdecode.go), in a
	// transaction database/sql scans them: both give the same events,
	// retracted ones too.
	for d, ids := range recorded {
		if err := testDB.Exec(`UPDATE `+d.Name()+`_events SET retracted_at = now(), retracted_by = 'users:9', retraction_reason = 'dup ✓' WHERE id = ANY(?::bigint[])`,
			fmt.Sprintf("{%d,%d}", ids[0], ids[len(ids)-1])).Error; err != nil {
			t.Fatal(err)
		}
		ctx := activity.AcrossTenants(context.Background())
		lean, err := d.EventsByID(ctx, testDB, ids)
		if err != nil {
			t.Fatal(err)
		}
		tx := testDB.Begin()
		scanned, err := d.EventsByID(ctx, tx, ids)
		tx.Rollback()
		if err != nil {
			t.Fatal(err)
		}
		if len(lean) != len(ids) || len(scanned) != len(ids) {
			t.Fatalf("%s: %d events on the pool, %d in a transaction, of %d", d.Name(), len(lean), len(scanned), len(ids))
		}
		for _, id := range ids {
			sameEvent(t, d.Name()+": decoded on the pool, scanned in a transaction", lean[id], scanned[id])
		}
		if lean[ids[0]].RetractedAt == nil || lean[ids[1]].RetractedAt != nil {
			t.Errorf("%s: retracted %v, not retracted %v", d.Name(), lean[ids[0]].RetractedAt, lean[ids[1]].RetractedAt)
		}
	}
}

// sameEvent fails unless the returned event is the read one, field for
// field, and prints both.
func sameEvent(t *testing.T, where string, returned, read activity.Event) {
	t.Helper()
	if read.ID == 0 {
		t.Fatalf("%s: event %d not found", where, returned.ID)
	}
	if !reflect.DeepEqual(returned, read) {
		a, _ := json.MarshalIndent(returned, "", " ")
		b, _ := json.MarshalIndent(read, "", " ")
		t.Errorf("%s: the returned event differs from the row:\nreturned %s\nread     %s\n(zones %v %v)", where, a, b,
			returned.OccurredAt.Location(), read.OccurredAt.Location())
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
