// Package webpushtest runs a web push service nobody in this project
// wrote the crypto of, on loopback, for tests: a small Node server (its
// script is peer.js) that hands out subscriptions as a browser would,
// checks each push's VAPID token (the ES256 signature with the k= key,
// aud, exp, sub) with Node's crypto and decrypts its body with npm's
// http_ece (RFC 8188/8291). Start installs http_ece with npm into a
// directory under the system's temporary directory, once per machine.
//
// Without node or npm, Start skips the test, saying so; under CI (the CI
// variable set) it fails instead: scripts/services installs them.
package webpushtest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

//go:embed peer.js
var peerJS []byte

// HTTPECE is the npm package (and version) that decrypts.
const HTTPECE = "http_ece@1.2.1"

// Push is one push the service received, as it answered it.
type Push struct {
	Sub     string `json:"sub"`    // the subscription's id (Subscribe)
	Status  int    `json:"status"` // the answer
	Bytes   int    `json:"bytes"`  // the body's length
	TTL     string `json:"ttl"`
	Urgency string `json:"urgency"`
	// Text is the decrypted payload (201 only).
	Text string `json:"text"`
	// Claims are the VAPID token's, once its signature checked out.
	Claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	} `json:"claims"`
	// Error says why a push was refused (a bad token, a body that does
	// not decrypt).
	Error string `json:"error"`
}

// Server is the running push service.
type Server struct {
	// Origin is "https://127.0.0.1:<port>": every endpoint's, and the
	// aud of VAPID tokens.
	Origin string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	roots  *x509.CertPool
	cert   *x509.Certificate
	ctl    *http.Client

	mu     sync.Mutex
	log    addresstest.Log[Push] // what it answered
	exited chan struct{}
}

// Start runs the push service until the test ends. vapidPublic is the
// application server key subscriptions are made with: a push whose k=
// differs is refused (401), as a push service refuses a key other than
// the subscription's.
func Start(t testing.TB, vapidPublic string) *Server {
	t.Helper()
	node, npm := tools(t)
	modules := install(t, npm)
	dir := t.TempDir()
	roots, cert, certFile, keyFile := certificate(t, dir)
	script := filepath.Join(dir, "peer.js")
	if err := os.WriteFile(script, peerJS, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "PEER_CERT="+certFile, "PEER_KEY="+keyFile, "VAPID_PUBLIC="+vapidPublic)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("webpushtest: start node: %v", err)
	}
	s := &Server{cmd: cmd, stdin: stdin, roots: roots, cert: cert, exited: make(chan struct{})}
	s.ctl = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	t.Cleanup(func() {
		_ = stdin.Close() // the script exits when its stdin ends
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})
	listening := make(chan string, 1)
	go s.read(stdout, listening)
	select {
	case s.Origin = <-listening:
	case <-s.exited:
		t.Fatal("webpushtest: the push service exited before listening (see its stderr above)")
	case <-time.After(30 * time.Second):
		t.Fatal("webpushtest: the push service did not listen within 30s")
	}
	return s
}

func (s *Server) read(stdout io.Reader, listening chan<- string) {
	defer func() { _ = s.cmd.Wait(); s.log.Close(); close(s.exited) }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Kind   string `json:"kind"`
			Origin string `json:"origin"`
			Push
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			continue
		}
		switch line.Kind {
		case "listening":
			listening <- line.Origin
		case "push":
			s.log.Add(line.Push)
		}
	}
}

// tools finds node and npm, or skips (fails under CI).
func tools(t testing.TB) (node, npm string) {
	t.Helper()
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if nerr == nil && perr == nil {
		return node, npm
	}
	msg := "webpushtest: the web push peer needs node and npm (scripts/services installs them: apt-get install nodejs npm)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", ""
}

var installMu sync.Mutex

// install puts http_ece into a directory of the machine's temporary
// directory once, and returns its node_modules. Concurrent test binaries
// each install into a directory of their own and rename it into place.
func install(t testing.TB, npm string) string {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	final := filepath.Join(os.TempDir(), "tidings-webpushtest-"+HTTPECE)
	modules := filepath.Join(final, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "http_ece", "package.json")); err == nil {
		return modules
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "tidings-webpushtest-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save", "--loglevel=error", HTTPECE)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("webpushtest: npm install %s: %v\n%s", HTTPECE, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(modules, "http_ece", "package.json")); serr != nil {
			t.Fatalf("webpushtest: move the install into place: %v", err)
		}
	}
	return modules
}

// certificate makes a self-signed certificate for 127.0.0.1.
func certificate(t testing.TB, dir string) (*x509.CertPool, *x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "webpushtest"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, cert, certFile, keyFile
}

// Client is a webhook client that trusts the service's certificate and
// may reach loopback (a real inbox's may not).
func (s *Server) Client() *webhook.Client {
	return webhook.NewClient(webhook.Config{
		CheckAddr: func(ap netip.AddrPort) error {
			if ap.Addr().IsLoopback() {
				return nil
			}
			return webhook.PublicOnly(ap)
		},
		TLSConfig: &tls.Config{RootCAs: s.roots},
		UserAgent: "tidings-webpush-test/1",
	})
}

// Trust makes s's Client and TLSConfig trust the others' certificates
// too: one client for several push services, as a real inbox has.
func (s *Server) Trust(others ...*Server) {
	for _, o := range others {
		s.roots.AddCert(o.cert)
	}
}

// TLSConfig trusts the service's certificate, for a client of one's own.
func (s *Server) TLSConfig() *tls.Config { return &tls.Config{RootCAs: s.roots} }

func (s *Server) control(t testing.TB, path string, q url.Values) []byte {
	t.Helper()
	resp, err := s.ctl.Post(s.Origin+"/_control/"+path+"?"+q.Encode(), "text/plain", nil)
	if err != nil {
		t.Fatalf("webpushtest: %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("webpushtest: %s: %s %s", path, resp.Status, b)
	}
	return b
}

// Subscribe makes a browser's subscription named id, and returns it as
// device.Register takes it for recipient.
func (s *Server) Subscribe(t testing.TB, recipient, id string) device.Address {
	t.Helper()
	var sub struct {
		Endpoint string `json:"endpoint"`
		Keys     struct {
			P256dh string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.control(t, "subscribe", url.Values{"id": {id}}), &sub); err != nil {
		t.Fatal(err)
	}
	return device.Address{Recipient: recipient, Kind: device.WebPush, Address: sub.Endpoint, P256dh: sub.Keys.P256dh, Auth: sub.Keys.Auth, Label: "webpushtest " + id}
}

// Unsubscribe forgets subscription id: its pushes are answered 410 Gone.
func (s *Server) Unsubscribe(t testing.TB, id string) {
	s.control(t, "unsubscribe", url.Values{"id": {id}})
}

// Fail answers the next n pushes with status, and with a Retry-After
// header when retryAfter is not "".
func (s *Server) Fail(t testing.TB, status, n int, retryAfter string) {
	s.control(t, "fail", url.Values{"status": {strconv.Itoa(status)}, "n": {strconv.Itoa(n)}, "retry_after": {retryAfter}})
}

// Down answers every push with status until Up.
func (s *Server) Down(t testing.TB, status int) {
	s.control(t, "down", url.Values{"status": {strconv.Itoa(status)}})
}

// Up ends Down and drops what Fail queued.
func (s *Server) Up(t testing.TB) { s.control(t, "up", nil) }

// Pushes returns every one of the pushes answered, in order.
func (s *Server) Pushes() []Push { return s.log.All() }

// Accepted returns the pushes accepted, in order.
func (s *Server) Accepted() []Push {
	return s.log.Filter(func(p Push) bool { return p.Status == http.StatusCreated })
}

// WaitFor waits until cond holds of the pushes received, at most d.
func (s *Server) WaitFor(d time.Duration, cond func([]Push) bool) ([]Push, error) {
	got, err := s.log.WaitFor(d, cond)
	if err != nil {
		return got, fmt.Errorf("webpushtest: %w", err)
	}
	return got, nil
}
