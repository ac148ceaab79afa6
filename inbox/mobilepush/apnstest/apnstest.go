// Package apnstest is a local Apple Push Notification service on
// loopback speaking HTTP/2 over TLS (and refusing HTTP/1.1, as APNs
// does), for tests of inbox/mobilepush/apns and of apps (Start in a test,
// NewServer in an app's dev mode): it makes a P-256 key of its own (the
// .p8 an app would download), checks each request's provider token
// (ES256 signature, kid, iss, an iat under an hour old), apns-topic and
// apns-push-type, the device token and the payload (at most 4 KiB, with
// aps), and answers with APNs's statuses and reasons: 410 Unregistered,
// 400 BadDeviceToken, 403 InvalidProviderToken, 429 TooManyRequests, 5xx
// on demand.
package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// The credentials the server expects.
const (
	TeamID = "TEAM123456"
	KeyID  = "KEY1234567"
	Topic  = "dev.tidings.test"
)

// Push is one request the server answered.
type Push struct {
	Token       string
	Proto       string // "HTTP/2.0"
	Title, Body string
	ThreadID    string
	CollapseID  string
	URL         string
	Payload     []byte
	Status      int    // the HTTP status answered
	Reason      string // APNs's reason, "" when accepted
}

// Server is the local APNs.
type Server struct {
	// URL is the server's base URL (apns.Config.BaseURL).
	URL string

	key *ecdsa.PrivateKey
	p8  []byte // PrivateKey's file
	srv *httptest.Server

	mu       sync.Mutex
	log      addresstest.Log[Push] // what it answered
	failures []failure
	down     int
	gone     map[string]bool
	bad      map[string]bool
}

type failure struct {
	status     int
	retryAfter string
}

// NewServer starts a server on 127.0.0.1 (HTTP/2, TLS) with a new key.
// Close stops it.
func NewServer() (*Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("apnstest: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("apnstest: the key's .p8: %w", err)
	}
	s := &Server{key: key, p8: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		gone: map[string]bool{}, bad: map[string]bool{}}
	if s.srv, err = loopback.Serve(http.HandlerFunc(s.serve), loopback.HTTP2); err != nil {
		return nil, fmt.Errorf("apnstest: %w", err)
	}
	s.URL = s.srv.URL
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

// PrivateKey is the .p8 file of the key the server checks tokens with.
func (s *Server) PrivateKey() []byte { return append([]byte(nil), s.p8...) }

// Client is an HTTP client trusting the server's certificate, speaking
// HTTP/2 to it.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Unregister makes token gone: pushes to it answer 410 Unregistered.
func (s *Server) Unregister(token string) { s.mu.Lock(); s.gone[token] = true; s.mu.Unlock() }

// Bad makes pushes to token answer 400 BadDeviceToken (a sandbox token
// sent to production).
func (s *Server) Bad(token string) { s.mu.Lock(); s.bad[token] = true; s.mu.Unlock() }

// Fail makes the next n requests answer status (429 TooManyRequests, 500
// InternalServerError, 503 ServiceUnavailable), with Retry-After when
// retryAfter is not "".
func (s *Server) Fail(status, n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status, retryAfter})
	}
}

// Down makes every request answer status until Up.
func (s *Server) Down(status int) { s.mu.Lock(); s.down = status; s.mu.Unlock() }

// Up ends Down.
func (s *Server) Up() { s.mu.Lock(); s.down = 0; s.mu.Unlock() }

// Pushes returns every one of the requests answered, in order.
func (s *Server) Pushes() []Push { return s.log.All() }

// Accepted returns the requests accepted, in order.
func (s *Server) Accepted() []Push {
	return s.log.Filter(func(p Push) bool { return p.Status == http.StatusOK })
}

// WaitFor waits until cond holds of the requests answered, at most d.
func (s *Server) WaitFor(d time.Duration, cond func([]Push) bool) ([]Push, error) {
	got, err := s.log.WaitFor(d, cond)
	if err != nil {
		return got, fmt.Errorf("apnstest: %w", err)
	}
	return got, nil
}

func (s *Server) record(p Push) { s.log.Add(p) }

var tokenRE = regexp.MustCompile(`^[0-9a-f]{64,200}$`)

// checkJWT reports the reason a provider token is refused, "" if none.
func (s *Server) checkJWT(auth string) string {
	if !strings.HasPrefix(auth, "bearer ") {
		return "MissingProviderToken"
	}
	parts := strings.Split(strings.TrimPrefix(auth, "bearer "), ".")
	if len(parts) != 3 {
		return "InvalidProviderToken"
	}
	var header struct{ Alg, Kid string }
	var claims struct {
		Iss string
		Iat int64
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(sig) != 64 || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return "InvalidProviderToken"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	switch {
	case header.Alg != "ES256" || header.Kid != KeyID || claims.Iss != TeamID:
		return "InvalidProviderToken"
	case !ecdsa.Verify(&s.key.PublicKey, sum[:], r, sv):
		return "InvalidProviderToken"
	case time.Since(time.Unix(claims.Iat, 0)) > time.Hour:
		return "ExpiredProviderToken"
	}
	return ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	p := Push{Token: strings.TrimPrefix(r.URL.Path, "/3/device/"), Proto: r.Proto, Payload: body,
		CollapseID: r.Header.Get("apns-collapse-id")}
	var payload struct {
		Aps struct {
			Alert struct {
				Title string `json:"title"`
				Body  string `json:"body"`
			} `json:"alert"`
			ThreadID string `json:"thread-id"`
		} `json:"aps"`
		URL string `json:"url"`
	}
	jsonErr := json.Unmarshal(body, &payload)
	p.Title, p.Body, p.ThreadID, p.URL = payload.Aps.Alert.Title, payload.Aps.Alert.Body, payload.Aps.ThreadID, payload.URL
	fail := func(status int, reason string) {
		p.Status, p.Reason = status, reason
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("apns-id", newID())
		w.WriteHeader(status)
		m := map[string]any{"reason": reason}
		if status == http.StatusGone {
			m["timestamp"] = time.Now().UnixMilli()
		}
		_ = json.NewEncoder(w).Encode(m)
		s.record(p)
	}
	s.mu.Lock()
	down, gone, bad := s.down, s.gone[p.Token], s.bad[p.Token]
	var next *failure
	if down == 0 && len(s.failures) > 0 {
		next = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	reasons := map[int]string{429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
	switch {
	case r.ProtoMajor != 2:
		fail(http.StatusBadRequest, "HTTP2Required") // APNs does not speak HTTP/1.1 at all
	case r.Method != http.MethodPost:
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed")
	case !strings.HasPrefix(r.URL.Path, "/3/device/"):
		fail(http.StatusNotFound, "BadPath")
	case down != 0:
		fail(down, reasons[down])
	case next != nil:
		if next.retryAfter != "" {
			w.Header().Set("Retry-After", next.retryAfter)
		}
		fail(next.status, reasons[next.status])
	case s.checkJWT(r.Header.Get("authorization")) != "":
		fail(http.StatusForbidden, s.checkJWT(r.Header.Get("authorization")))
	case r.Header.Get("apns-topic") == "":
		fail(http.StatusBadRequest, "MissingTopic")
	case r.Header.Get("apns-topic") != Topic:
		fail(http.StatusBadRequest, "TopicDisallowed")
	case r.Header.Get("apns-push-type") != "alert" && r.Header.Get("apns-push-type") != "background":
		fail(http.StatusBadRequest, "InvalidPushType")
	case !tokenRE.MatchString(p.Token) || bad:
		fail(http.StatusBadRequest, "BadDeviceToken")
	case len(body) > 4096:
		fail(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	case len(body) == 0:
		fail(http.StatusBadRequest, "PayloadEmpty")
	case jsonErr != nil || payload.Aps.Alert.Title == "":
		fail(http.StatusBadRequest, "BadPayload")
	case len(p.CollapseID) > 64:
		fail(http.StatusBadRequest, "BadCollapseId")
	case gone:
		fail(http.StatusGone, "Unregistered")
	default:
		p.Status = http.StatusOK
		w.Header().Set("apns-id", newID())
		w.WriteHeader(http.StatusOK)
		s.record(p)
	}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := strings.ToUpper(hex.EncodeToString(b))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
