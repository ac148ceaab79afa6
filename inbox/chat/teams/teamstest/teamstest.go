// Package teamstest serves Microsoft Teams incoming webhooks on 127.0.0.1
// over TLS, for tests and dev mode: a Workflows trigger at
// POST /workflows/{id}/triggers/manual/paths/invoke?sig={sig} answering as
// Power Automate does (202; 404 WorkflowNotFound for an unknown or deleted
// workflow; 401 DirectApiAuthorizationRequired for a wrong signature; 400
// for a body that is not a message with an Adaptive Card; 429 with
// Retry-After), or in Legacy mode a connector at
// POST /webhookb2/{id}/IncomingWebhook/{sig} (200 "1"; its rate limit a
// 200 whose text says "HTTP error 429"). A test can make it answer 5xx.
package teamstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/chat/teams"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// Payload is a posted message, as Teams reads it.
type Payload struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string `json:"contentType"`
		Content     struct {
			Type    string `json:"type"`
			Version string `json:"version"`
			Body    []struct {
				Type    string `json:"type"`
				Text    string `json:"text"`
				Inlines []struct {
					Type   string `json:"type"`
					Text   string `json:"text"`
					Weight string `json:"weight"`
				} `json:"inlines"`
			} `json:"body"`
		} `json:"content"`
	} `json:"attachments"`
}

// Texts returns the card's text, a line per block.
func (p Payload) Texts() []string {
	var out []string
	for _, a := range p.Attachments {
		for _, b := range a.Content.Body {
			if b.Text != "" {
				out = append(out, b.Text)
			}
			var line strings.Builder
			for _, in := range b.Inlines {
				line.WriteString(in.Text)
			}
			if line.Len() > 0 {
				out = append(out, line.String())
			}
		}
	}
	return out
}

// Message is a post the server accepted.
type Message struct {
	WebhookID string
	Payload   Payload
}

// Config configures a Server.
type Config struct {
	// Legacy serves an Office 365 connector instead of a Workflows
	// trigger.
	Legacy bool
}

// Server is a fake Teams webhook host. Its methods are safe for
// concurrent use.
type Server struct {
	cfg Config
	srv *httptest.Server

	mu       sync.Mutex
	cond     *sync.Cond
	hooks    map[string]string // id -> sig
	messages []Message
	posts    int
	limited  int
	retry    int
	down     int
}

// NewServer starts a fake Teams webhook host on 127.0.0.1. Close stops
// it.
func NewServer(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, hooks: map[string]string{}}
	s.cond = sync.NewCond(&s.mu)
	srv, err := loopback.Serve(http.HandlerFunc(s.serve), loopback.TLS)
	if err != nil {
		return nil, fmt.Errorf("teamstest: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Start is NewServer for tests: it fails t when the server cannot start
// and closes the server at the test's end.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Webhook registers a webhook and returns its URL.
func (s *Server) Webhook(id, sig string) string {
	s.mu.Lock()
	s.hooks[id] = sig
	s.mu.Unlock()
	if s.cfg.Legacy {
		return s.srv.URL + "/webhookb2/" + id + "/IncomingWebhook/" + sig
	}
	return s.srv.URL + "/workflows/" + id + "/triggers/manual/paths/invoke?api-version=2016-06-01&sig=" + sig
}

// Delete removes a webhook: later posts to it answer 404.
func (s *Server) Delete(id string) {
	s.mu.Lock()
	delete(s.hooks, id)
	s.mu.Unlock()
}

// Down answers every post with status until Up.
func (s *Server) Down(status int) { s.mu.Lock(); s.down = status; s.mu.Unlock() }

// Up ends Down.
func (s *Server) Up() { s.mu.Lock(); s.down = 0; s.mu.Unlock() }

// RateLimit answers the next n posts with a rate limit of retryAfter
// seconds.
func (s *Server) RateLimit(n, retryAfter int) {
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

// Posts counts every post received.
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
			return append([]Message(nil), s.messages...), fmt.Errorf("teamstest: %d messages after %s, want %d", len(s.messages), timeout, n)
		}
		s.cond.Wait()
	}
	return append([]Message(nil), s.messages...), nil
}

// Client is a webhook.Client that trusts the server's certificate and may
// reach loopback addresses.
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

func flowError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	id, sig, ok := s.parse(r)
	if r.Method != http.MethodPost || !ok {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	switch {
	case s.down != 0:
		w.WriteHeader(s.down)
		return
	case s.limited > 0:
		s.limited--
		w.Header().Set("Retry-After", strconv.Itoa(s.retry))
		if s.cfg.Legacy {
			fmt.Fprint(w, "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-test,cv=x.")
			return
		}
		flowError(w, http.StatusTooManyRequests, "WorkflowTriggeredTooManyTimes", "Rate limit is exceeded. Try again later.")
		return
	}
	want, known := s.hooks[id]
	switch {
	case !known:
		flowError(w, http.StatusNotFound, "WorkflowNotFound", "The workflow could not be found.")
		return
	case sig != want:
		flowError(w, http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.")
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil || p.Type != "message" || len(p.Attachments) == 0 ||
		p.Attachments[0].ContentType != teams.AdaptiveCardType || p.Attachments[0].Content.Type != "AdaptiveCard" || len(p.Attachments[0].Content.Body) == 0 {
		flowError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content is not a message with an Adaptive Card.")
		return
	}
	s.messages = append(s.messages, Message{WebhookID: id, Payload: p})
	s.cond.Broadcast()
	if s.cfg.Legacy {
		fmt.Fprint(w, "1")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) parse(r *http.Request) (id, sig string, ok bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if s.cfg.Legacy {
		if len(parts) == 4 && parts[0] == "webhookb2" && parts[2] == "IncomingWebhook" {
			return parts[1], parts[3], true
		}
		return "", "", false
	}
	if len(parts) == 6 && parts[0] == "workflows" && parts[2] == "triggers" && parts[5] == "invoke" {
		return parts[1], r.URL.Query().Get("sig"), true
	}
	return "", "", false
}
