// Package discordtest serves Discord's Execute Webhook API on 127.0.0.1
// over TLS, for tests and dev mode: POST /api/webhooks/{id}/{token}
// answers as Discord does (204, or 200 with the message under ?wait=true;
// 404 code 10015 for an unknown or deleted webhook; 401 code 50027 for a
// wrong token; 400 code 50035 for a body Discord refuses; 429 with
// retry_after in the body and Retry-After in the headers), and a test can
// make it answer 5xx or rate-limit the next posts.
package discordtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/inbox/chat/discord"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// Message is a post the server accepted.
type Message struct {
	WebhookID string
	Payload   discord.Payload
	Wait      bool // the post asked ?wait=true
}

// Server is a fake Discord. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	cond     *sync.Cond
	hooks    map[string]string // id -> token
	messages []Message
	posts    int
	fail     []int // statuses to answer to the next posts
	limited  int   // the next posts answered 429
	retry    float64
	down     int // status answered to every post while non-zero
}

// NewServer starts a fake Discord on 127.0.0.1. Close stops it.
func NewServer() (*Server, error) {
	s := &Server{hooks: map[string]string{}}
	s.cond = sync.NewCond(&s.mu)
	srv, err := loopback.Serve(http.HandlerFunc(s.serve), loopback.TLS)
	if err != nil {
		return nil, fmt.Errorf("discordtest: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Start is NewServer for tests: it fails t when the server cannot start
// and closes the server at the test's end.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Webhook registers a webhook and returns its URL.
func (s *Server) Webhook(id, token string) string {
	s.mu.Lock()
	s.hooks[id] = token
	s.mu.Unlock()
	return s.srv.URL + "/api/webhooks/" + id + "/" + token
}

// Delete removes a webhook: later posts to it answer 404 Unknown Webhook.
func (s *Server) Delete(id string) {
	s.mu.Lock()
	delete(s.hooks, id)
	s.mu.Unlock()
}

// Fail answers the next posts with these statuses, one each.
func (s *Server) Fail(statuses ...int) {
	s.mu.Lock()
	s.fail = append(s.fail, statuses...)
	s.mu.Unlock()
}

// Down answers every post with status (503) until Up.
func (s *Server) Down(status int) {
	s.mu.Lock()
	s.down = status
	s.mu.Unlock()
}

// Up ends Down.
func (s *Server) Up() {
	s.mu.Lock()
	s.down = 0
	s.mu.Unlock()
}

// RateLimit answers the next n posts 429 with retry_after seconds.
func (s *Server) RateLimit(n int, retryAfter float64) {
	s.mu.Lock()
	s.limited, s.retry = n, retryAfter
	s.mu.Unlock()
}

// Messages returns the accepted posts, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Posts counts every post received, accepted or not.
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// WaitFor waits until n posts were accepted, or timeout.
func (s *Server) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	deadline := time.Now().Add(timeout)
	stop := time.AfterFunc(timeout, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer stop.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.messages) < n {
		if !time.Now().Before(deadline) {
			return append([]Message(nil), s.messages...), fmt.Errorf("discordtest: %d messages after %s, want %d", len(s.messages), timeout, n)
		}
		s.cond.Wait()
	}
	return append([]Message(nil), s.messages...), nil
}

// Client is a webhook.Client that trusts the server's certificate and may
// reach loopback addresses (the default refuses them).
func (s *Server) Client() *webhook.Client {
	return webhook.NewClient(webhook.Config{
		CheckAddr: func(ap netip.AddrPort) error {
			if ap.Addr().IsLoopback() {
				return nil
			}
			return webhook.PublicOnly(ap)
		},
		TLSConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone(),
	})
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var id, token string
	if r.Method != http.MethodPost || !parsePath(r.URL.Path, &id, &token) {
		answer(w, http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0})
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	switch {
	case s.down != 0:
		answer(w, s.down, map[string]any{"message": "upstream unavailable", "code": 0})
		return
	case len(s.fail) > 0:
		status := s.fail[0]
		s.fail = s.fail[1:]
		answer(w, status, map[string]any{"message": http.StatusText(status), "code": 0})
		return
	case s.limited > 0:
		s.limited--
		w.Header().Set("Retry-After", strconv.Itoa(int(s.retry+0.999)))
		w.Header().Set("X-RateLimit-Limit", "5")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset-After", strconv.FormatFloat(s.retry, 'f', 3, 64))
		w.Header().Set("X-RateLimit-Scope", "user")
		answer(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": s.retry, "global": false})
		return
	}
	want, ok := s.hooks[id]
	switch {
	case !ok:
		answer(w, http.StatusNotFound, map[string]any{"message": "Unknown Webhook", "code": 10015})
		return
	case token != want:
		answer(w, http.StatusUnauthorized, map[string]any{"message": "Invalid Webhook Token", "code": 50027})
		return
	}
	var p discord.Payload
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil {
		answer(w, http.StatusBadRequest, map[string]any{"message": "Cannot send an empty message", "code": 50006})
		return
	}
	switch {
	case p.Content == "" && len(p.Embeds) == 0:
		answer(w, http.StatusBadRequest, map[string]any{"message": "Cannot send an empty message", "code": 50006})
		return
	case utf8.RuneCountInString(p.Content) > discord.MaxContent:
		answer(w, http.StatusBadRequest, map[string]any{"message": "Invalid Form Body", "code": 50035})
		return
	}
	wait := r.URL.Query().Get("wait") == "true"
	s.messages = append(s.messages, Message{WebhookID: id, Payload: p, Wait: wait})
	s.cond.Broadcast()
	w.Header().Set("X-RateLimit-Limit", "5")
	w.Header().Set("X-RateLimit-Remaining", "4")
	w.Header().Set("X-RateLimit-Reset-After", "0.400")
	if !wait {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	answer(w, http.StatusOK, map[string]any{"id": strconv.Itoa(len(s.messages)), "webhook_id": id, "content": p.Content, "type": 0})
}

// parsePath reads /api/webhooks/{id}/{token} (also under /api/v10/).
func parsePath(path string, id, token *string) bool {
	var rest string
	for _, prefix := range []string{"/api/webhooks/", "/api/v10/webhooks/"} {
		if len(path) > len(prefix) && path[:len(prefix)] == prefix {
			rest = path[len(prefix):]
		}
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			*id, *token = rest[:i], rest[i+1:]
			return *id != "" && *token != ""
		}
	}
	return false
}
