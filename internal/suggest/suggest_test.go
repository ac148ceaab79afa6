package suggest_test

import (
	"testing"

	"github.com/tidingsdev/tidings/internal/suggest"
)

func TestNearest(t *testing.T) {
	actions := []string{"comment_added", "comment_deleted", "label_added"}
	for _, tc := range []struct{ in, want string }{
		{"coment_added", "comment_added"},
		{"label_aded", "label_added"},
		{"comment_deletd", "comment_deleted"},
		{"deploy", ""},
	} {
		if got := suggest.Nearest(tc.in, actions); got != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if d := suggest.Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance(kitten, sitting) = %d, want 3", d)
	}
}
