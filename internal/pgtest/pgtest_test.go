package pgtest

import (
	"context"
	"strings"
	"testing"
)

// A database whose name does not say it is a test's is refused before
// the server is asked anything.
func TestCreateRefusesNamesWithoutPrefix(t *testing.T) {
	t.Setenv("TIDINGS_PG_DSN", "host=127.0.0.1 port=1 user=nobody") // no server: nothing reached
	for _, name := range []string{"tidings", "app_production", "tidings_testx"} {
		_, err := Create(context.Background(), name)
		if err == nil || !strings.Contains(err.Error(), Prefix) {
			t.Errorf("Create(%q) = %v, want a refusal naming %q", name, err, Prefix)
		}
	}
}
