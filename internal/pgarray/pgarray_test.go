package pgarray_test

import (
	"context"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// TestRoundTrip sends each array through the real server and reads it back,
// with the characters an array literal must escape.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_pgarray")
	if err != nil {
		t.Fatal(err)
	}
	texts := pgarray.Text{`plain`, `with "quotes"`, `back\slash`, `comma,brace}{`, ``, `NULL`}
	var got []string
	if err := db.WithContext(ctx).Raw(`SELECT unnest(?::text[])`, texts).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	if len(got) != len(texts) {
		t.Fatalf("got %q, want %q", got, texts)
	}
	for i := range texts {
		if got[i] != texts[i] {
			t.Errorf("element %d: got %q, want %q", i, got[i], texts[i])
		}
	}
	var sum int64
	if err := db.Raw(`SELECT sum(x) FROM unnest(?::bigint[]) x`, pgarray.Int8{1, -2, 1 << 40}).Scan(&sum).Error; err != nil || sum != 1<<40-1 {
		t.Errorf("int8 sum = %d, %v", sum, err)
	}
	var trues int
	if err := db.Raw(`SELECT count(*) FROM unnest(?::boolean[]) b WHERE b`, pgarray.Bool{true, false, true}).Scan(&trues).Error; err != nil || trues != 2 {
		t.Errorf("bool count = %d, %v", trues, err)
	}
}
