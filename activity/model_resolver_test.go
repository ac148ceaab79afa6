package activity_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Note is a model with what gorm's scan does and a plain one would not: a
// soft delete (its scope), a NULL read into a non-pointer field, a
// serialized field.
type Note struct {
	ID        int64
	Title     string
	Meta      map[string]string `gorm:"serializer:json"`
	DeletedAt gorm.DeletedAt
}

// Hooked has an AfterFind hook, which runs in Find's callbacks.
type Hooked struct {
	ID    int64
	Name  string
	Found bool `gorm:"-"`
}

func (h *Hooked) AfterFind(*gorm.DB) error { h.Found = true; return nil }

// Misread reads the notes table into a field its title does not fit.
type Misread struct {
	ID    int64
	Title int64
}

func (Misread) TableName() string { return "notes" }

// Unmigrated is a model whose table does not exist.
type Unmigrated struct{ ID int64 }

// TestModelResolversOfAPage: a page's ModelResolvers load together (on
// the pool, one batch on one connection) with what gorm's Find gives:
// scopes (a soft-deleted row is absent), a NULL read as the zero value,
// serializers, AfterFind hooks, uuid and text keys; next to a resolver of
// the app's own. Each type gets its own values, on the pool as in a
// transaction. A model that cannot be read fails the page with gorm's
// error, named by its type.
func TestModelResolversOfAPage(t *testing.T) {
	ctx := context.Background()
	if err := testDB.AutoMigrate(&Note{}, &Hooked{}); err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`CREATE TABLE IF NOT EXISTS labels (code text PRIMARY KEY, name text NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	kept := Note{Title: "kept", Meta: map[string]string{"k": `v "quoted"`}}
	gone := Note{Title: "gone"}
	hooked := Hooked{Name: "hooked"}
	label := Label{Code: `it's {a} "label" ` + uuid.NewString(), Name: "batched label"}
	acct := Account{ID: uuid.NewString(), Name: "Batched"}
	for _, v := range []any{&kept, &gone, &hooked, &label, &acct} {
		if err := testDB.Create(v).Error; err != nil {
			t.Fatal(err)
		}
	}
	var untitled int64
	if err := testDB.Raw(`INSERT INTO notes (title, meta) VALUES (NULL, NULL) RETURNING id`).Scan(&untitled).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Delete(&gone).Error; err != nil { // soft
		t.Fatal(err)
	}
	custom := activity.ResolverFunc(func(_ context.Context, _ *gorm.DB, ids []string) (map[string]any, error) {
		out := map[string]any{}
		for _, id := range ids {
			out[id] = "custom " + id
		}
		return out, nil
	})
	d := activity.MustDomain(activity.DomainConfig{
		Name: "probe", Actions: []string{"noted"},
		Resolvers: map[string]activity.Resolver{
			"notes":    activity.ModelResolver[Note](),
			"hookeds":  activity.ModelResolver[Hooked](),
			"labels":   activity.ModelResolver[Label](),
			"accounts": activity.ModelResolver[Account](),
			"custom":   custom,
		},
	})
	ref := func(typ string, id any) (*string, *string) { s := fmt.Sprint(id); return &typ, &s }
	event := func(actorType string, actorID any, recordType string, recordID any) activity.Event {
		e := activity.Event{ActorType: actorType, ActorID: fmt.Sprint(actorID)}
		e.RecordType, e.RecordID = ref(recordType, recordID)
		return e
	}
	events := []activity.Event{
		event("accounts", acct.ID, "notes", kept.ID),
		event("custom", "7", "notes", gone.ID),
		event("hookeds", hooked.ID, "notes", untitled),
		event("accounts", acct.ID, "labels", label.Code),
	}
	check := func(where string, db *gorm.DB) {
		entries, err := d.Resolve(ctx, db, events)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if a, ok := entries[0].ActorValue.(*Account); !ok || a.Name != "Batched" {
			t.Errorf("%s: account actor = %#v", where, entries[0].ActorValue)
		}
		if n, ok := entries[0].RecordValue.(*Note); !ok || n.Title != "kept" || n.Meta["k"] != `v "quoted"` {
			t.Errorf("%s: note record = %#v, want kept with its serialized meta", where, entries[0].RecordValue)
		}
		if entries[1].ActorValue != "custom 7" {
			t.Errorf("%s: custom actor = %#v", where, entries[1].ActorValue)
		}
		if entries[1].RecordValue != nil {
			t.Errorf("%s: a soft-deleted note loaded: %#v", where, entries[1].RecordValue)
		}
		if h, ok := entries[2].ActorValue.(*Hooked); !ok || !h.Found {
			t.Errorf("%s: hooked actor = %#v, want its AfterFind run", where, entries[2].ActorValue)
		}
		if n, ok := entries[2].RecordValue.(*Note); !ok || n.Title != "" || n.Meta != nil {
			t.Errorf("%s: untitled note = %#v, want loaded with its NULLs as zero values", where, entries[2].RecordValue)
		}
		if l, ok := entries[3].RecordValue.(*Label); !ok || l.Name != "batched label" {
			t.Errorf("%s: label record = %#v", where, entries[3].RecordValue)
		}
	}
	check("on the pool", testDB)
	if err := testDB.Transaction(func(tx *gorm.DB) error { check("in a transaction", tx); return nil }); err != nil {
		t.Fatal(err)
	}

	// A title that is not an integer: the batch's scan fails, and so
	// does gorm's Find of the type, whose error the page returns.
	bad := activity.MustDomain(activity.DomainConfig{
		Name: "probe", Actions: []string{"noted"},
		Resolvers: map[string]activity.Resolver{"notes": activity.ModelResolver[Misread](), "accounts": activity.ModelResolver[Account]()},
	})
	// Each call sends the two types in map order: over 20 calls, the
	// failing one comes first too, and the other then reads its error.
	for range 20 {
		_, err := bad.Resolve(ctx, testDB, events[:1])
		if err == nil || !strings.Contains(err.Error(), "resolve notes") || !strings.Contains(err.Error(), "Misread") {
			t.Fatalf("a model that cannot be read: err = %v, want gorm's error naming the type", err)
		}
	}

	// The server refuses a statement of the batch (its table is
	// missing): the page fails with PostgreSQL's error, named by the
	// type, and the connection the batch ran on serves the next page.
	missing := activity.MustDomain(activity.DomainConfig{
		Name: "probe", Actions: []string{"noted"},
		Resolvers: map[string]activity.Resolver{"notes": activity.ModelResolver[Unmigrated](), "accounts": activity.ModelResolver[Account]()},
	})
	for range 20 {
		_, err := missing.Resolve(ctx, testDB, events[:1])
		if err == nil || !strings.Contains(err.Error(), "resolve notes") || !strings.Contains(err.Error(), `"unmigrateds" does not exist`) {
			t.Fatalf("a model without a table: err = %v, want PostgreSQL's error naming the type", err)
		}
	}
	check("on the pool, after the refused batches", testDB)
}

// Backend is a row of a view that says which server process read it.
type Backend struct {
	ID  int64
	Pid int32
}

type UserBackend struct{ Backend }

func (UserBackend) TableName() string { return "user_backends" }

type CommentBackend struct{ Backend }

func (CommentBackend) TableName() string { return "comment_backends" }

// TestModelResolversShareOneConnection: on the pool, a page's
// ModelResolvers run on one connection (one batch, one round trip), not
// one connection each; in a transaction, on the transaction's.
func TestModelResolversShareOneConnection(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{
		`CREATE OR REPLACE VIEW user_backends AS SELECT id, pg_backend_pid() AS pid FROM users`,
		`CREATE OR REPLACE VIEW comment_backends AS SELECT id, pg_backend_pid() AS pid FROM comments`,
	} {
		if err := testDB.Exec(v).Error; err != nil {
			t.Fatal(err)
		}
	}
	d := activity.MustDomain(activity.DomainConfig{
		Name: "issue", Actions: []string{"comment_added"},
		Resolvers: map[string]activity.Resolver{
			"users":    activity.ModelResolver[UserBackend](),
			"comments": activity.ModelResolver[CommentBackend](),
		},
	})
	ev := commentEvent(t, d, "where")
	pids := func(db *gorm.DB) (actor, record int32) {
		t.Helper()
		entries, err := d.Resolve(ctx, db, []activity.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := entries[0].ActorValue.(*UserBackend)
		r, _ := entries[0].RecordValue.(*CommentBackend)
		if a == nil || r == nil {
			t.Fatalf("actor %#v, record %#v: want both loaded", entries[0].ActorValue, entries[0].RecordValue)
		}
		return a.Pid, r.Pid
	}
	// Loading at once would take two of the pool's connections.
	sqlDB, _ := testDB.DB()
	if conns := sqlDB.Stats().MaxOpenConnections; conns != 0 && conns < 2 {
		t.Skipf("the test pool allows %d connection", conns)
	}
	for range 20 {
		if a, r := pids(testDB); a != r {
			t.Fatalf("on the pool the users loaded on backend %d, the comments on %d: want one connection", a, r)
		}
	}
	if err := testDB.Transaction(func(tx *gorm.DB) error {
		var own int32
		if err := tx.Raw(`SELECT pg_backend_pid()`).Scan(&own).Error; err != nil {
			return err
		}
		if a, r := pids(tx); a != own || r != own {
			t.Errorf("in a transaction on backend %d the models loaded on %d and %d", own, a, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
