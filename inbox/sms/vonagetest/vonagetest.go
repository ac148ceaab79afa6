// Package vonagetest is a local server speaking Vonage's SMS API on
// loopback, for tests of inbox/sms/vonage and of apps (Start in a test,
// NewServer in an app's dev mode): it checks each request as Vonage does
// (POST /sms/json, a form with api_key and api_secret, or a signature
// with the account's signature secret and a timestamp; from, to in E.164
// without "+", text), answers with the SMS API's JSON (messages[].status:
// 0, 1 throttled, 2, 3, 4 bad credentials, 6 for an invalid number, 7 for
// a barred one, 14 bad signature, 32 signature and secret), or HTTP 429
// with Retry-After and 5xx, records the messages it accepted, and sends
// signed delivery receipts to a message's callback, as a GET query, a
// POST form or a POST JSON object.
package vonagetest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// Message is one request the server answered.
type Message struct {
	ID         string // the first part's message-id when accepted
	To, From   string // as posted: E.164 without "+"
	Text, Type string
	Callback   string // the callback URL, "" for none
	ClientRef  string
	Signed     bool   // authenticated by sig, not api_secret
	HTTPStatus int    // the HTTP status answered
	Status     string // the SMS API's status answered ("0" accepted), "" with a non-200
	Parts      int    // message parts accepted
}

// Server is the local Vonage.
type Server struct {
	// URL is the server's base URL (vonage.Config.BaseURL).
	URL string
	// APIKey, APISecret and SignatureSecret are the account's
	// credentials; SignatureMethod ("md5hash", "md5", "sha1", "sha256",
	// "sha512") signs and checks signatures (default "md5hash").
	APIKey, APISecret, SignatureSecret string
	SignatureMethod                    string
	// ReceiptMethod is how Receipt sends: "GET", "POST" (a form) or
	// "POST-JSON" (default "POST").
	ReceiptMethod string

	srv *httptest.Server

	mu       sync.Mutex
	log      addresstest.Log[Message]
	failures []failure
	down     int
	barred   map[string]bool
	invalid  map[string]bool
	seq      int
}

type failure struct {
	httpStatus int    // an HTTP failure, or
	status     string // an SMS API status answered with 200
	retryAfter string
}

var msisdn = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

// NewServer starts a server on 127.0.0.1 with a new API key, API secret
// and signature secret. Close stops it.
func NewServer() (*Server, error) {
	s := &Server{APIKey: hexOf(4), APISecret: hexOf(8), SignatureSecret: hexOf(16), SignatureMethod: "md5hash",
		ReceiptMethod: "POST", barred: map[string]bool{}, invalid: map[string]bool{}}
	srv, err := loopback.Serve(http.HandlerFunc(s.serve), loopback.HTTP)
	if err != nil {
		return nil, fmt.Errorf("vonagetest: %w", err)
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

// Bar makes the server refuse messages to number (E.164, with or without
// "+") with status 7: it is on the account's list of numbers that texted
// STOP.
func (s *Server) Bar(number string) {
	s.mu.Lock()
	s.barred[strings.TrimPrefix(number, "+")] = true
	s.mu.Unlock()
}

// Invalid makes the server refuse messages to number with status 6 (an
// unrecognised number prefix).
func (s *Server) Invalid(number string) {
	s.mu.Lock()
	s.invalid[strings.TrimPrefix(number, "+")] = true
	s.mu.Unlock()
}

// Fail makes the next n requests answer the HTTP status (429 with
// Retry-After when retryAfter is not "", 5xx with a text body).
func (s *Server) Fail(httpStatus, n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{httpStatus: httpStatus, retryAfter: retryAfter})
	}
}

// Throttle makes the next n requests answer 200 with status 1
// (throttled), as the SMS API does above the account's rate.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: "1"})
	}
}

// Down makes every request answer the HTTP status until Up.
func (s *Server) Down(httpStatus int) { s.mu.Lock(); s.down = httpStatus; s.mu.Unlock() }

// Up ends Down.
func (s *Server) Up() { s.mu.Lock(); s.down = 0; s.mu.Unlock() }

// Messages returns every one of the messages answered, in order.
func (s *Server) Messages() []Message { return s.log.All() }

// Accepted returns the messages accepted, in order.
func (s *Server) Accepted() []Message {
	return s.log.Filter(func(m Message) bool { return m.Status == "0" })
}

// WaitFor waits until cond holds of the messages answered, at most d.
func (s *Server) WaitFor(d time.Duration, cond func([]Message) bool) ([]Message, error) {
	got, err := s.log.WaitFor(d, cond)
	if err != nil {
		return got, fmt.Errorf("vonagetest: %w", err)
	}
	return got, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/sms/json" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	f := r.Form
	m := Message{To: f.Get("to"), From: f.Get("from"), Text: f.Get("text"), Type: f.Get("type"), Callback: f.Get("callback"),
		ClientRef: f.Get("client-ref")}
	if m.Type == "" {
		m.Type = "text"
	}
	refuse := func(status, text string) {
		m.HTTPStatus, m.Status = http.StatusOK, status
		writeJSON(w, map[string]any{"message-count": "1", "messages": []map[string]string{{"status": status, "error-text": text}}})
		s.log.Add(m)
	}
	s.mu.Lock()
	down := s.down
	var next *failure
	if down == 0 && len(s.failures) > 0 {
		next = &s.failures[0]
		s.failures = s.failures[1:]
	}
	barred, invalid := s.barred[m.To], s.invalid[m.To]
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	switch {
	case down != 0:
		m.HTTPStatus = down
		http.Error(w, "Service Unavailable", down)
		s.log.Add(m)
		return
	case next != nil && next.status != "":
		refuse(next.status, "Throughput Rate Exceeded - please wait [ 1000 ] and retry")
		return
	case next != nil:
		if next.retryAfter != "" {
			w.Header().Set("Retry-After", next.retryAfter)
		}
		m.HTTPStatus = next.httpStatus
		http.Error(w, http.StatusText(next.httpStatus), next.httpStatus)
		s.log.Add(m)
		return
	}
	if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		refuse("2", "Missing api_key")
		return
	}
	sig, secret := f.Get("sig"), f.Get("api_secret")
	switch {
	case f.Get("api_key") == "":
		refuse("2", "Missing api_key")
		return
	case sig != "" && secret != "":
		refuse("32", "Signature and API secret disallowed")
		return
	case f.Get("api_key") != s.APIKey:
		refuse("4", "Bad Credentials")
		return
	case sig != "":
		params := map[string]string{}
		for k := range f {
			params[k] = f.Get(k)
		}
		ts, err := strconv.ParseInt(f.Get("timestamp"), 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute ||
			!strings.EqualFold(Sign(s.SignatureMethod, s.SignatureSecret, params), sig) {
			refuse("14", "Invalid Signature")
			return
		}
		m.Signed = true
	case !hmac.Equal([]byte(secret), []byte(s.APISecret)):
		refuse("4", "Bad Credentials")
		return
	}
	switch {
	case m.From == "":
		refuse("2", "Missing from param")
	case m.To == "":
		refuse("2", "Missing to param")
	case m.Text == "":
		refuse("2", "Missing text param")
	case !msisdn.MatchString(m.To):
		refuse("3", "Invalid to address")
	case invalid:
		refuse("6", "Unroutable message - rejected")
	case barred:
		refuse("7", "Number barred")
	default:
		m.HTTPStatus, m.Status = http.StatusOK, "0"
		m.Parts = parts(m.Text, m.Type)
		var msgs []map[string]string
		for i := range m.Parts {
			id := fmt.Sprintf("%08X%08X", seq, i)
			if i == 0 {
				m.ID = id
			}
			msgs = append(msgs, map[string]string{"to": m.To, "message-id": id, "status": "0", "remaining-balance": "15.53590000",
				"message-price": "0.03330000", "network": "23410", "client-ref": m.ClientRef})
		}
		writeJSON(w, map[string]any{"message-count": strconv.Itoa(m.Parts), "messages": msgs})
		s.log.Add(m)
	}
}

// parts is how many SMS text of type takes: 160 characters in one, 153 a
// part beyond (70 and 67 for unicode).
func parts(text, typ string) int {
	n := len([]rune(text))
	one, each := 160, 153
	if typ == "unicode" {
		one, each = 70, 67
	}
	if n <= one {
		return 1
	}
	return (n + each - 1) / each
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// Sign is the SMS API's signature of params (sig left out) with secret
// by method, written here apart from package vonage's: the string
// "&name=value" of each parameter in name order, '&' and '=' in values
// made '_'; md5hash is the hex MD5 of it and the secret, the others the
// upper-case hex HMAC of it.
func Sign(method, secret string, params map[string]string) string {
	var keys []string
	for k := range params {
		if k != "sig" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		v := []byte(params[k]) // bytes, not runes: a byte that is not UTF-8 is signed as it is
		for i, c := range v {
			if c == '&' || c == '=' {
				v[i] = '_'
			}
		}
		fmt.Fprintf(&buf, "&%s=%s", k, v)
	}
	var h func() hash.Hash
	switch method {
	case "", "md5hash":
		buf.WriteString(secret)
		return fmt.Sprintf("%x", md5.Sum(buf.Bytes()))
	case "md5":
		h = md5.New
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha512":
		h = sha512.New
	default:
		panic("vonagetest: unknown signature method " + method)
	}
	mac := hmac.New(h, []byte(secret))
	mac.Write(buf.Bytes())
	return strings.ToUpper(fmt.Sprintf("%x", mac.Sum(nil)))
}

// Receipt sends a delivery receipt for the accepted message id to its
// callback, signed with the account's signature secret as Vonage does,
// by ReceiptMethod, and returns the handler's HTTP status. errCode is
// the receipt's err-code ("0" delivered).
func (s *Server) Receipt(ctx context.Context, id, status, errCode string) (int, error) {
	return s.ReceiptSigned(ctx, id, status, errCode, s.SignatureSecret)
}

// ReceiptSigned is Receipt signed with secret (another account's, to test
// a refusal; "" for none).
func (s *Server) ReceiptSigned(ctx context.Context, id, status, errCode, secret string) (int, error) {
	var m *Message
	for _, x := range s.Messages() {
		if x.ID == id && x.Status == "0" {
			m = &x
			break
		}
	}
	if m == nil || m.Callback == "" {
		return 0, fmt.Errorf("vonagetest: no accepted message %s with a callback", id)
	}
	now := time.Now().UTC()
	p := map[string]string{"msisdn": m.To, "to": m.From, "network-code": "23410", "messageId": id, "price": "0.03330000",
		"status": status, "scts": now.Format("0601021504"), "err-code": errCode, "api-key": s.APIKey,
		"message-timestamp": now.Format("2006-01-02 15:04:05"), "timestamp": strconv.FormatInt(now.Unix(), 10), "nonce": hexOf(16)}
	if m.ClientRef != "" {
		p["client-ref"] = m.ClientRef
	}
	if secret != "" {
		p["sig"] = Sign(s.SignatureMethod, secret, p)
	}
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	var req *http.Request
	var err error
	switch s.ReceiptMethod {
	case "GET":
		u, perr := url.Parse(m.Callback)
		if perr != nil {
			return 0, perr
		}
		q := u.Query()
		for k, v := range p {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	case "POST-JSON":
		body, _ := json.Marshal(p)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, m.Callback, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	default:
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, m.Callback, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
