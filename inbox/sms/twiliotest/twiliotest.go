// Package twiliotest is a local server speaking Twilio's Messages API on
// loopback, for tests of inbox/sms/twilio and of apps (Start in a test,
// NewServer in an app's dev mode): it checks each request as Twilio does
// (the account's path, HTTP basic auth with the account SID and auth
// token, the form's To in E.164, From or MessagingServiceSid, a Body of
// at most 1,600 characters), answers with Twilio's status codes and error
// bodies (20003, 21211, 21610, 429 with Retry-After, 5xx), records the
// messages it accepted, and posts signed delivery-status callbacks to a
// message's StatusCallback.
package twiliotest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// Message is one request the server answered.
type Message struct {
	SID                 string // "SM..." when accepted
	To, From, Body      string
	MessagingServiceSID string
	StatusCallback      string
	Status              int // the HTTP status answered
	Code                int // Twilio's error code answered, 0 when accepted
}

// Server is the local Twilio.
type Server struct {
	// URL is the server's base URL (twilio.Config.BaseURL).
	URL string
	// AccountSID and AuthToken are the account's credentials.
	AccountSID, AuthToken string

	srv *httptest.Server

	mu       sync.Mutex
	log      addresstest.Log[Message] // what it answered
	failures []failure
	down     int
	optedOut map[string]bool
	invalid  map[string]bool
	seq      int
}

type failure struct {
	status     int
	code       int
	retryAfter string
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NewServer starts a server on 127.0.0.1 with a new account SID and auth
// token. Close stops it.
func NewServer() (*Server, error) {
	s := &Server{AccountSID: "AC" + hexOf(16), AuthToken: hexOf(16),
		optedOut: map[string]bool{}, invalid: map[string]bool{}}
	srv, err := loopback.Serve(http.HandlerFunc(s.serve), loopback.HTTP)
	if err != nil {
		return nil, fmt.Errorf("twiliotest: %w", err)
	}
	s.srv, s.URL = srv, srv.URL
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

func hexOf(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OptOut makes the server refuse messages to number with 21610 (its owner
// texted STOP).
func (s *Server) OptOut(number string) { s.mu.Lock(); s.optedOut[number] = true; s.mu.Unlock() }

// Invalid makes the server refuse messages to number with 21211.
func (s *Server) Invalid(number string) { s.mu.Lock(); s.invalid[number] = true; s.mu.Unlock() }

// Fail makes the next n requests answer status (with Twilio's code for
// it, and Retry-After when retryAfter is not "").
func (s *Server) Fail(status, n int, retryAfter string) {
	code := 0
	switch {
	case status == http.StatusTooManyRequests:
		code = 20429
	case status >= 500:
		code = 20500
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, code: code, retryAfter: retryAfter})
	}
}

// Down makes every request answer status until Up.
func (s *Server) Down(status int) { s.mu.Lock(); s.down = status; s.mu.Unlock() }

// Up ends Down.
func (s *Server) Up() { s.mu.Lock(); s.down = 0; s.mu.Unlock() }

// Messages returns every one of the messages answered, in order.
func (s *Server) Messages() []Message { return s.log.All() }

// Accepted returns the messages accepted, in order.
func (s *Server) Accepted() []Message {
	return s.log.Filter(func(m Message) bool { return m.Status == http.StatusCreated })
}

// WaitFor waits until cond holds of the messages answered, at most d.
func (s *Server) WaitFor(d time.Duration, cond func([]Message) bool) ([]Message, error) {
	got, err := s.log.WaitFor(d, cond)
	if err != nil {
		return got, fmt.Errorf("twiliotest: %w", err)
	}
	return got, nil
}

func (s *Server) record(m Message) { s.log.Add(m) }

// answer writes Twilio's error body.
func answer(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json" {
		answer(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if r.Method != http.MethodPost {
		answer(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	_ = r.ParseForm()
	f := r.PostForm
	m := Message{To: f.Get("To"), From: f.Get("From"), Body: f.Get("Body"), MessagingServiceSID: f.Get("MessagingServiceSid"),
		StatusCallback: f.Get("StatusCallback")}
	fail := func(status, code int, msg string) {
		m.Status, m.Code = status, code
		answer(w, status, code, msg)
		s.record(m)
	}
	s.mu.Lock()
	down := s.down
	var next *failure
	if down == 0 && len(s.failures) > 0 {
		next = &s.failures[0]
		s.failures = s.failures[1:]
	}
	opted, invalid := s.optedOut[m.To], s.invalid[m.To]
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	switch {
	case down != 0:
		fail(down, 20500, "Service unavailable")
		return
	case next != nil:
		if next.retryAfter != "" {
			w.Header().Set("Retry-After", next.retryAfter)
		}
		fail(next.status, next.code, "Too many requests")
		return
	}
	sid, token, ok := r.BasicAuth()
	if !ok || sid != s.AccountSID || !hmac.Equal([]byte(token), []byte(s.AuthToken)) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		fail(http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		fail(http.StatusBadRequest, 20001, "Content-Type must be application/x-www-form-urlencoded, not "+ct)
		return
	}
	switch {
	case m.To == "":
		fail(http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case !e164.MatchString(m.To) || invalid:
		fail(http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+m.To)
	case m.From == "" && m.MessagingServiceSID == "":
		fail(http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
	case m.Body == "":
		fail(http.StatusBadRequest, 21602, "Message body is required.")
	case utf8.RuneCountInString(m.Body) > 1600:
		fail(http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
	case opted:
		fail(http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
	default:
		m.SID = fmt.Sprintf("SM%032x", seq)
		m.Status = http.StatusCreated
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": m.SID, "account_sid": s.AccountSID, "to": m.To, "from": m.From,
			"messaging_service_sid": m.MessagingServiceSID, "body": m.Body, "status": "queued", "num_segments": "1",
			"direction": "outbound-api", "api_version": "2010-04-01", "error_code": nil, "error_message": nil})
		s.record(m)
	}
}

// Sign is Twilio's X-Twilio-Signature of a request to fullURL with form
// params, written here apart from package twilio's: HMAC-SHA1 keyed with
// the auth token over the URL and each sorted name followed by its
// value, base64.
func Sign(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		vs := append([]string(nil), params[n]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(n + v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Callback posts a delivery report for the accepted message sid to its
// StatusCallback, signed with the account's token as Twilio does, and
// returns the handler's HTTP status. errorCode is "" for a message
// without error.
func (s *Server) Callback(ctx context.Context, sid, status, errorCode string) (int, error) {
	return s.CallbackSigned(ctx, sid, status, errorCode, s.AuthToken)
}

// CallbackSigned is Callback with the signature made with token (another
// account's, to test a refusal).
func (s *Server) CallbackSigned(ctx context.Context, sid, status, errorCode, token string) (int, error) {
	var m *Message
	for _, x := range s.Messages() {
		if x.SID == sid {
			m = &x
			break
		}
	}
	if m == nil || m.StatusCallback == "" {
		return 0, fmt.Errorf("twiliotest: no accepted message %s with a StatusCallback", sid)
	}
	form := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {s.AccountSID}, "To": {m.To}, "From": {m.From},
		"MessageStatus": {status}, "SmsStatus": {status}, "ApiVersion": {"2010-04-01"}}
	if m.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if errorCode != "" {
		form.Set("ErrorCode", errorCode)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.StatusCallback, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Sign(token, m.StatusCallback, form))
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
