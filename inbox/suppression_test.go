package inbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// Bad suppressions are refused with a typed error naming the field,
// before any write; addresses compare case-insensitively; a quote in an
// address is data.
func TestSuppressionInput(t *testing.T) {
	reset(t)
	ctx := context.Background()
	testDB.Exec(`TRUNCATE inbox_suppressions`)
	bad := []struct {
		s     inbox.Suppression
		field string
	}{
		{inbox.Suppression{Channel: "email", Address: ""}, "Address"},
		{inbox.Suppression{Channel: "email", Address: "a\x00b@example.com"}, "Address"},
		{inbox.Suppression{Channel: "email", Address: "a\xffb@example.com"}, "Address"},
		{inbox.Suppression{Channel: "email", Address: strings.Repeat("a", 400) + "@example.com"}, "Address"},
		{inbox.Suppression{Channel: "", Address: "a@example.com"}, "Channel"},
		{inbox.Suppression{Channel: "email", Address: "a@example.com", Reason: "spam"}, "Reason"},
		{inbox.Suppression{Channel: "email", Address: "a@example.com", Detail: "x\x00"}, "Detail"},
	}
	for _, b := range bad {
		err := inbox.Suppress(ctx, testDB, b.s)
		var se *inbox.SuppressionError
		if !errors.As(err, &se) || se.Field != b.field || !errors.Is(err, inbox.ErrInvalidConfig) {
			t.Errorf("Suppress(%+q): %v; want a SuppressionError on %s", b.s.Address, err, b.field)
		}
	}
	var n int64
	testDB.Raw(`SELECT count(*) FROM inbox_suppressions`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows written by refused calls", n)
	}
	odd := `o'brien"; DROP TABLE x; --@Example.com`
	if err := inbox.Suppress(ctx, testDB, inbox.Suppression{Channel: "email", Address: odd}); err != nil {
		t.Fatal(err)
	}
	s, err := inbox.Suppressed(ctx, testDB, "email", []string{strings.ToUpper(odd), "other@example.com"})
	if err != nil || len(s) != 1 || s[strings.ToUpper(odd)].Reason != inbox.ReasonManual {
		t.Fatalf("Suppressed: %+v %v; want the odd address found (manual, case-insensitive)", s, err)
	}
	list, err := inbox.ListSuppressions(ctx, testDB, "", time.Time{}, 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListSuppressions: %+v %v", list, err)
	}
}
