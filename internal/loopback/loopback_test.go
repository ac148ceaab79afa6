package loopback_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/loopback"
)

// Each mode serves on 127.0.0.1 with its scheme and protocol, and its
// client trusts the certificate.
func TestServe(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })
	for _, c := range []struct {
		mode          loopback.Mode
		scheme, proto string
	}{{loopback.HTTP, "http://127.0.0.1:", "HTTP/1.1"}, {loopback.TLS, "https://127.0.0.1:", "HTTP/1.1"}, {loopback.HTTP2, "https://127.0.0.1:", "HTTP/2.0"}} {
		s, err := loopback.Serve(h, c.mode)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.URL, c.scheme) {
			t.Errorf("mode %d: URL %s, want %s...", c.mode, s.URL, c.scheme)
		}
		resp, err := s.Client().Get(s.URL)
		if err != nil {
			t.Fatalf("mode %d: %v", c.mode, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != c.proto {
			t.Errorf("mode %d: served over %s, want %s", c.mode, b, c.proto)
		}
		s.Close()
	}
	if _, err := loopback.Serve(h, loopback.Mode(9)); err == nil {
		t.Error("an unknown mode served")
	}
}
