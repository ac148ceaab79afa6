package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// Method names accepted by FailNext and Calls.
const (
	MethodPostMessage = "chat.postMessage"
	MethodAuthTest    = "auth.test"
	MethodReplies     = "conversations.replies"
	MethodWebhook     = "webhook" // any incoming webhook
)

// Config configures a Server.
type Config struct {
	// Token, when set, is the only token Web API calls may carry; others
	// get invalid_auth. Webhooks need no token.
	Token string
	// OmitThreadTS leaves message.thread_ts out of chat.postMessage's
	// answers, as slack-go's own slacktest does: a client must not depend
	// on it to know where its reply went.
	OmitThreadTS bool
}

// Failure is an answer the server gives instead of doing the call.
type Failure struct {
	// Error is the Slack error code: "channel_not_found", "invalid_auth",
	// "not_in_channel", ... The Web API answers it as HTTP 200 with
	// {"ok":false,"error":Error}; webhooks answer it as the body of an HTTP
	// error (404 for channel_not_found and no_service, 403 for
	// action_prohibited and invalid_token, 410 for channel_is_archived, 400
	// otherwise).
	Error string
	// RetryAfter, when set, answers HTTP 429 with a Retry-After header of
	// that many seconds (rounded up) instead.
	RetryAfter time.Duration
	// Status overrides the HTTP status of the answer.
	Status int
}

// Message is one message the server accepted.
type Message struct {
	Method   string // MethodPostMessage or MethodWebhook
	Webhook  string // the webhook's name, for MethodWebhook
	Channel  string // the channel ID it landed in ("" for a webhook without channel)
	Text     string
	Blocks   slack.Blocks
	ThreadTS string // the parent's ts for a threaded reply, "" otherwise
	TS       string // the message's own ts ("" for webhooks, which return none)
	Token    string
	At       time.Time // when the server accepted it
}

// Refusal is a call the server answered with a programmed Failure.
type Refusal struct {
	Method  string
	Failure Failure
	At      time.Time // when the server answered it
}

// Texts returns the message's top-level text followed by every text object
// in its blocks, as Slack received them. Tests use it to check escaping.
func (m Message) Texts() []string {
	out := []string{m.Text}
	add := func(t *slack.TextBlockObject) {
		if t != nil {
			out = append(out, t.Text)
		}
	}
	for _, b := range m.Blocks.BlockSet {
		switch b := b.(type) {
		case *slack.SectionBlock:
			add(b.Text)
			for _, f := range b.Fields {
				add(f)
			}
		case *slack.HeaderBlock:
			add(b.Text)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					add(t)
				}
			}
		}
	}
	return out
}

// Server is a running fake Slack. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	srv *httptest.Server

	mu       sync.Mutex
	seq      int
	messages []Message
	calls    map[string]int
	failures map[string][]Failure
	deleted  map[string]bool // channel + "/" + ts
	refused  []Refusal
	changed  chan struct{}
}

// NewServer starts a server on 127.0.0.1. Close stops it.
func NewServer(cfg Config) *Server {
	s := &Server{
		cfg:      cfg,
		calls:    map[string]int{},
		failures: map[string][]Failure{},
		deleted:  map[string]bool{},
		changed:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat.postMessage", s.postMessage)
	mux.HandleFunc("POST /api/auth.test", s.authTest)
	mux.HandleFunc("POST /api/conversations.replies", s.replies)
	mux.HandleFunc("GET /api/conversations.replies", s.replies)
	mux.HandleFunc("POST /api/{method}", s.unknownMethod)
	mux.HandleFunc("POST /services/{name...}", s.webhook)
	s.srv = httptest.NewServer(mux)
	return s
}

// Start is NewServer for tests: the server closes when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s := NewServer(cfg)
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL returns the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL }

// APIURL returns the Web API base for slack.OptionAPIURL, ending in "/api/".
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// WebhookURL returns the URL of the incoming webhook called name.
func (s *Server) WebhookURL(name string) string { return s.srv.URL + "/services/" + name }

// FailNext makes the next n calls of method (MethodPostMessage,
// MethodAuthTest or MethodWebhook) answer f. Calls queue up in order.
func (s *Server) FailNext(method string, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], f)
	}
}

// DeleteMessage marks a message as deleted: replies to it are posted as
// new top-level messages, as Slack does.
func (s *Server) DeleteMessage(channel, ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted[channel+"/"+ts] = true
}

// Calls returns how many calls of method arrived, failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor waits until at least n messages were accepted and returns them
// all, or fails when timeout passes first.
func (s *Server) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.changed
		if got >= n {
			msgs := append([]Message(nil), s.messages...)
			s.mu.Unlock()
			return msgs, nil
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return s.Messages(), fmt.Errorf("slacktest: waited %s for %d messages, got %d", timeout, n, got)
		}
	}
}

// ChannelID returns the ID the server gives a channel: "#issues" becomes
// "CISSUES"; an ID stays as it is.
func ChannelID(channel string) string {
	name, ok := strings.CutPrefix(channel, "#")
	if !ok {
		return channel
	}
	var b strings.Builder
	b.WriteByte('C')
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// begin counts a call and pops its programmed failure, if any.
func (s *Server) begin(method string) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	q := s.failures[method]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	s.failures[method] = q[1:]
	s.refused = append(s.refused, Refusal{Method: method, Failure: f, At: time.Now()})
	close(s.changed)
	s.changed = make(chan struct{})
	return &f
}

// WaitRefusals waits until at least n calls were answered with a
// programmed Failure and returns them all, or fails when timeout passes
// first.
func (s *Server) WaitRefusals(n int, timeout time.Duration) ([]Refusal, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.refused), s.changed
		if got >= n {
			out := append([]Refusal(nil), s.refused...)
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return s.Refusals(), fmt.Errorf("slacktest: waited %s for %d refusals, got %d", timeout, n, got)
		}
	}
}

// Refusals returns the calls answered with a programmed Failure, oldest
// first.
func (s *Server) Refusals() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Refusal(nil), s.refused...)
}

func (s *Server) record(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.At = time.Now()
	if m.Method == MethodPostMessage {
		s.seq++
		m.TS = fmt.Sprintf("1700000000.%06d", s.seq)
		if m.ThreadTS != "" && (s.deleted[m.Channel+"/"+m.ThreadTS] || !s.hasMessage(m.Channel, m.ThreadTS)) {
			m.ThreadTS = "" // the parent is gone: Slack posts the reply at top level
		}
	}
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return m
}

func (s *Server) hasMessage(channel, ts string) bool {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return true
		}
	}
	return false
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	if !s.apiFailed(w, MethodPostMessage, r) {
		return
	}
	channel := r.PostForm.Get("channel")
	if channel == "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	m := Message{
		Method:   MethodPostMessage,
		Channel:  ChannelID(channel),
		Text:     r.PostForm.Get("text"),
		ThreadTS: r.PostForm.Get("thread_ts"),
		Token:    token(r),
	}
	if raw := r.PostForm.Get("blocks"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &m.Blocks); err != nil {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_blocks_format"})
			return
		}
	}
	if m.Text == "" && len(m.Blocks.BlockSet) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	m = s.record(m)
	msg := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "bot_id": "B0001"}
	if m.ThreadTS != "" && !s.cfg.OmitThreadTS {
		msg["thread_ts"] = m.ThreadTS
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": msg})
}

func (s *Server) authTest(w http.ResponseWriter, r *http.Request) {
	if !s.apiFailed(w, MethodAuthTest, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "url": s.srv.URL + "/", "team": "Fake Team", "user": "tidings",
		"team_id": "T0001", "user_id": "U0001", "bot_id": "B0001",
	})
}

// replies answers conversations.replies for a thread's parent:
// thread_not_found when it was deleted or never posted.
func (s *Server) replies(w http.ResponseWriter, r *http.Request) {
	if !s.apiFailed(w, MethodReplies, r) {
		return
	}
	channel, ts := ChannelID(r.Form.Get("channel")), r.Form.Get("ts")
	s.mu.Lock()
	gone := s.deleted[channel+"/"+ts] || !s.hasMessage(channel, ts)
	var msgs []map[string]any
	for _, m := range s.messages {
		if m.Channel == channel && (m.TS == ts || m.ThreadTS == ts) {
			msgs = append(msgs, map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "thread_ts": ts})
		}
	}
	s.mu.Unlock()
	if gone {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

func (s *Server) unknownMethod(w http.ResponseWriter, r *http.Request) {
	s.begin(r.PathValue("method"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
}

// apiFailed parses the form, counts the call and answers a programmed
// failure or a bad token. It reports whether the call may proceed.
func (s *Server) apiFailed(w http.ResponseWriter, method string, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		return false
	}
	if f := s.begin(method); f != nil {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
			writeJSON(w, orStatus(f.Status, http.StatusTooManyRequests), map[string]any{"ok": false, "error": "ratelimited"})
			return false
		}
		writeJSON(w, orStatus(f.Status, http.StatusOK), map[string]any{"ok": false, "error": f.Error})
		return false
	}
	if s.cfg.Token != "" && token(r) != s.cfg.Token {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return false
	}
	return true
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	if f := s.begin(MethodWebhook); f != nil {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
			http.Error(w, "rate_limited", orStatus(f.Status, http.StatusTooManyRequests))
			return
		}
		http.Error(w, f.Error, orStatus(f.Status, webhookStatus(f.Error)))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	var wm slack.WebhookMessage
	if err := json.Unmarshal(body, &wm); err != nil || (wm.Text == "" && (wm.Blocks == nil || len(wm.Blocks.BlockSet) == 0)) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	m := Message{Method: MethodWebhook, Webhook: r.PathValue("name"), Channel: ChannelID(wm.Channel), Text: wm.Text, ThreadTS: wm.ThreadTimestamp}
	if wm.Blocks != nil {
		m.Blocks = *wm.Blocks
	}
	s.record(m)
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}

func webhookStatus(code string) int {
	switch code {
	case "channel_not_found", "no_service":
		return http.StatusNotFound
	case "action_prohibited", "invalid_token", "no_active_hooks":
		return http.StatusForbidden
	case "channel_is_archived":
		return http.StatusGone
	}
	return http.StatusBadRequest
}

func orStatus(status, def int) int {
	if status != 0 {
		return status
	}
	return def
}

func token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return r.PostForm.Get("token")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
