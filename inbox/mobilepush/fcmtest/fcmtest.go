// Package fcmtest is a local Firebase Cloud Messaging on loopback
// (HTTP/1.1), for tests of inbox/mobilepush/fcm and of apps (Start in a
// test, NewServer in an app's dev mode): a service account's key of its
// own (ServiceAccount), an OAuth token endpoint that checks the key's
// RS256 assertion (RFC 7523: signature, iss, scope, aud, exp) before it
// hands out access tokens, and the HTTP v1 send endpoint
// (POST /v1/projects/{project}/messages:send) that checks the bearer
// token and the message's shape and answers as FCM does: UNREGISTERED
// (404) for tokens made gone, QUOTA_EXCEEDED (429) and UNAVAILABLE (503)
// with Retry-After on demand.
package fcmtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/internal/loopback"
)

// Push is one send request the server answered.
type Push struct {
	Token       string
	Title, Body string
	Data        map[string]string
	CollapseKey string
	Status      int    // the HTTP status answered
	Reason      string // FCM's error code answered, "" when accepted
}

// Server is the local FCM.
type Server struct {
	// URL is the server's base URL (fcm.Config.BaseURL); the token
	// endpoint is URL + "/token", named in ServiceAccount.
	URL       string
	ProjectID string

	key     *rsa.PrivateKey
	email   string
	account []byte // ServiceAccount's JSON
	srv     *httptest.Server

	mu          sync.Mutex
	log         addresstest.Log[Push] // what it answered
	issued      map[string]bool
	tokenCalls  int
	failures    []failure
	down        int
	gone        map[string]bool
	tokenStatus int // the token endpoint answers this when not 0
}

type failure struct {
	status     int
	retryAfter string
}

// NewServer starts a server on 127.0.0.1 with a new project and service
// account. Close stops it.
func NewServer() (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("fcmtest: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &Server{ProjectID: "tidings-test-" + hex.EncodeToString(b), key: key,
		issued: map[string]bool{}, gone: map[string]bool{}}
	s.email = "push@" + s.ProjectID + ".iam.gserviceaccount.com"
	if s.srv, err = loopback.Serve(http.HandlerFunc(s.serve), loopback.HTTP); err != nil {
		return nil, fmt.Errorf("fcmtest: %w", err)
	}
	s.URL = s.srv.URL
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err == nil {
		s.account, err = json.Marshal(map[string]string{"type": "service_account", "project_id": s.ProjectID, "private_key_id": "k1",
			"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": s.email,
			"token_uri": s.URL + "/token"})
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("fcmtest: the service account's key: %w", err)
	}
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

// ServiceAccount is the account's JSON key, as Firebase's console gives
// it, with token_uri this server's token endpoint.
func (s *Server) ServiceAccount() []byte { return append([]byte(nil), s.account...) }

// Unregister makes token gone: pushes to it answer 404 UNREGISTERED.
func (s *Server) Unregister(token string) { s.mu.Lock(); s.gone[token] = true; s.mu.Unlock() }

// Fail makes the next n sends answer status (429 QUOTA_EXCEEDED, 503
// UNAVAILABLE, 500 INTERNAL), with Retry-After when retryAfter is not "".
func (s *Server) Fail(status, n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status, retryAfter})
	}
}

// Down makes every send answer status until Up.
func (s *Server) Down(status int) { s.mu.Lock(); s.down = status; s.mu.Unlock() }

// Up ends Down.
func (s *Server) Up() { s.mu.Lock(); s.down = 0; s.mu.Unlock() }

// Revoke forgets every access token handed out: the next send with one
// answers 401 UNAUTHENTICATED.
func (s *Server) Revoke() { s.mu.Lock(); clear(s.issued); s.mu.Unlock() }

// TokenEndpoint makes the token endpoint answer status (400
// invalid_grant) when not 0.
func (s *Server) TokenEndpoint(status int) { s.mu.Lock(); s.tokenStatus = status; s.mu.Unlock() }

// TokenCalls is how many access tokens were asked for.
func (s *Server) TokenCalls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.tokenCalls }

// Pushes returns every one of the sends answered, in order.
func (s *Server) Pushes() []Push { return s.log.All() }

// Accepted returns the sends accepted, in order.
func (s *Server) Accepted() []Push {
	return s.log.Filter(func(p Push) bool { return p.Status == http.StatusOK })
}

// WaitFor waits until cond holds of the sends answered, at most d.
func (s *Server) WaitFor(d time.Duration, cond func([]Push) bool) ([]Push, error) {
	got, err := s.log.WaitFor(d, cond)
	if err != nil {
		return got, fmt.Errorf("fcmtest: %w", err)
	}
	return got, nil
}

func (s *Server) record(p Push) { s.log.Add(p) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		s.serveToken(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/projects/"+s.ProjectID+"/messages:send":
		s.serveSend(w, r)
	default:
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "", "Requested entity was not found.")
	}
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveToken checks the assertion and hands out an access token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenCalls++
	forced := s.tokenStatus
	s.mu.Unlock()
	if forced != 0 {
		oauthError(w, forced, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	_ = r.ParseForm()
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT")
		return
	}
	var header struct{ Alg, Typ string }
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT encoding")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	now := time.Now().Unix()
	switch {
	case header.Alg != "RS256":
		oauthError(w, http.StatusBadRequest, "invalid_grant", "alg is not RS256")
	case rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
	case claims.Iss != s.email:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "iss is not the service account")
	case !strings.Contains(" "+claims.Scope+" ", " https://www.googleapis.com/auth/firebase.messaging "):
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope lacks firebase.messaging")
	case claims.Aud != s.URL+"/token":
		oauthError(w, http.StatusBadRequest, "invalid_grant", "aud is not the token endpoint")
	case claims.Exp <= now || claims.Exp-claims.Iat > 3600 || claims.Iat > now+60:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	default:
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		tok := "ya29." + base64.RawURLEncoding.EncodeToString(b)
		s.mu.Lock()
		s.issued[tok] = true
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
	}
}

func fcmError(w http.ResponseWriter, status int, grpcStatus, errorCode, msg string) {
	e := map[string]any{"code": status, "message": msg, "status": grpcStatus}
	if errorCode != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode}}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// serveSend checks and answers one send.
func (s *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message struct {
			Token        string            `json:"token"`
			Topic        string            `json:"topic"`
			Notification map[string]string `json:"notification"`
			Data         map[string]string `json:"data"`
			Android      struct {
				CollapseKey string `json:"collapse_key"`
				TTL         string `json:"ttl"`
			} `json:"android"`
		} `json:"message"`
	}
	decodeErr := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req)
	m := req.Message
	p := Push{Token: m.Token, Title: m.Notification["title"], Body: m.Notification["body"], Data: m.Data, CollapseKey: m.Android.CollapseKey}
	fail := func(status int, grpcStatus, code, msg string) {
		p.Status, p.Reason = status, code
		if code == "" {
			p.Reason = grpcStatus
		}
		fcmError(w, status, grpcStatus, code, msg)
		s.record(p)
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	known, down, gone := s.issued[auth], s.down, s.gone[m.Token]
	var next *failure
	if down == 0 && len(s.failures) > 0 {
		next = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	switch {
	case down != 0:
		fail(down, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
	case next != nil:
		if next.retryAfter != "" {
			w.Header().Set("Retry-After", next.retryAfter)
		}
		switch next.status {
		case http.StatusTooManyRequests:
			fail(next.status, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send requests'.")
		case http.StatusInternalServerError:
			fail(next.status, "INTERNAL", "INTERNAL", "Internal error encountered.")
		default:
			fail(next.status, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
		}
	case !known:
		fail(http.StatusUnauthorized, "UNAUTHENTICATED", "", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Content-Type is not JSON")
	case decodeErr != nil:
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received: "+decodeErr.Error())
	case m.Token == "" || m.Topic != "":
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Exactly one of message.token, message.topic or message.condition is required.")
	case m.Notification["title"] == "":
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.notification.title is empty")
	case m.Android.TTL != "" && !strings.HasSuffix(m.Android.TTL, "s"):
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value at 'message.android.ttl'")
	case gone:
		fail(http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
	default:
		p.Status = http.StatusOK
		n := len(s.log.All()) + 1
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": fmt.Sprintf("projects/%s/messages/0:%d", s.ProjectID, n)})
		s.record(p)
	}
}
