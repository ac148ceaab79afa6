package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// fakeResolver answers lookups from a table; a host with several answers
// gives them in turn (the last one repeats), to play DNS rebinding.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   map[string]int
}

func newFakeResolver(answers map[string][]string) *fakeResolver {
	return &fakeResolver{answers: answers, calls: map[string]int{}}
}

func (r *fakeResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(seq)-1)
	r.calls[host]++
	var out []net.IPAddr
	for _, a := range strings.Split(seq[i], ",") {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

func TestPublicOnly(t *testing.T) {
	refused := map[string]string{
		"10.0.0.1":           "private (10.0.0.0/8)",
		"172.16.5.4":         "private (172.16.0.0/12)",
		"172.31.255.255":     "private (172.16.0.0/12)",
		"192.168.1.1":        "private (192.168.0.0/16)",
		"127.0.0.1":          "loopback",
		"127.5.5.5":          "loopback",
		"169.254.169.254":    "link-local",
		"100.64.0.1":         "carrier-grade NAT",
		"100.127.255.254":    "carrier-grade NAT",
		"0.0.0.0":            "unspecified",
		"224.0.0.1":          "multicast",
		"255.255.255.255":    "reserved",
		"198.18.0.1":         "benchmarking",
		"192.0.2.1":          "documentation",
		"::":                 "unspecified",
		"::1":                "loopback",
		"fe80::1":            "link-local (fe80::/10)",
		"fe80::1%eth0":       "link-local (fe80::/10)",
		"febf::1":            "link-local (fe80::/10)",
		"fc00::1":            "unique-local",
		"fd12:3456::1":       "unique-local",
		"ff02::1":            "multicast",
		"::ffff:10.0.0.1":    "private (10.0.0.0/8)",
		"::ffff:127.0.0.1":   "loopback",
		"::127.0.0.1":        "IPv4-compatible",
		"64:ff9b::a00:1":     "embeds 10.0.0.1, which is private",
		"64:ff9b::a9fe:a9fe": "embeds 169.254.169.254",
		"2002:a00:1::":       "embeds 10.0.0.1, which is private",
		"2001:db8::1":        "documentation",
		"2001::1":            "IETF",
	}
	for addr, want := range refused {
		err := PublicOnly(netip.AddrPortFrom(netip.MustParseAddr(addr), 443))
		if !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want a refusal mentioning %q", addr, err, want)
		}
	}
	for _, addr := range []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1", "2606:4700:4700::1111", "2a00:1450:4001::200e", "64:ff9b::808:808", "2002:808:808::"} {
		if err := PublicOnly(netip.AddrPortFrom(netip.MustParseAddr(addr), 443)); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	resolver := newFakeResolver(map[string][]string{
		"hooks.example.com":  {"93.184.216.34"},
		"dual.example.com":   {"93.184.216.34,2606:4700::1"},
		"internal.example":   {"10.0.0.1"},
		"sneaky.example.com": {"93.184.216.34,169.254.169.254"},
		"v6local.example":    {"fd00::1"},
		"mapped.example":     {"::ffff:127.0.0.1"},
	})
	c := NewClient(Config{Resolver: resolver})
	ctx := context.Background()
	for _, ok := range []string{
		"https://hooks.example.com/tidings?x=1",
		"https://dual.example.com:8443/hook",
		"https://93.184.216.34/hook",
		"https://[2606:4700:4700::1111]/hook",
		"HTTPS://hooks.example.com/",
	} {
		if err := c.CheckURL(ctx, ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for raw, want := range map[string]string{
		"http://hooks.example.com/hook":            "only https URLs are allowed; got http",
		"ftp://hooks.example.com/":                 "only https URLs are allowed; got ftp",
		"https://127.0.0.1/hook":                   "address 127.0.0.1 is loopback (127.0.0.0/8)",
		"https://169.254.169.254/latest/meta-data": "address 169.254.169.254 is link-local",
		"https://[::1]:8443/":                      "address ::1 is loopback",
		"https://[fe80::1%25eth0]/":                "address fe80::1 is link-local (fe80::/10)",
		"https://10.1.2.3/":                        "is private (10.0.0.0/8)",
		"https://100.64.1.1/":                      "carrier-grade NAT",
		"https://0.0.0.0/":                         "unspecified",
		"https://internal.example/hook":            "host internal.example resolves to 10.0.0.1, which is private (10.0.0.0/8)",
		"https://sneaky.example.com/":              "resolves to 169.254.169.254, which is link-local",
		"https://v6local.example/":                 "resolves to fd00::1, which is unique-local",
		"https://mapped.example/":                  "resolves to 127.0.0.1, which is loopback",
		"https://localhost/hook":                   "host localhost is loopback",
		"https://api.localhost./hook":              "is loopback",
		"https://nowhere.example/":                 "host nowhere.example does not resolve: no such host",
		"https://user:secret@hooks.example.com/":   "must not carry credentials",
		"hooks.example.com/hook":                   "has no scheme",
		"https:///hook":                            "has no host",
		"https:hook":                               "has no host",
		"https://hooks.example.com:99999/":         "port 99999 is not between 1 and 65535",
		"https://hooks.example.com/%zz":            "is not a URL",
		"https://hooks.example.com/" + strings.Repeat("a", MaxURLLength): "at most 2048 are allowed",
	} {
		err := c.CheckURL(ctx, raw)
		if !errors.Is(err, ErrInvalidURL) {
			t.Errorf("%s: err = %v; want ErrInvalidURL", raw, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant it to contain %q", raw, err, want)
		}
	}
	// Address refusals carry the *AddressError, naming the host.
	err := c.CheckURL(ctx, "https://internal.example/hook")
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Host != "internal.example" || ae.Addr.Addr() != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("AddressError = %+v from %v", ae, err)
	}
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("errors.Is(ErrForbiddenAddress) = false for %v", err)
	}
}

// testServer is an httptest TLS server on loopback that counts its
// requests. Its address is the only one the tests' policy allows besides
// public ones.
type testServer struct {
	*httptest.Server
	hits atomic.Int32
	addr netip.AddrPort
}

func newTestServer(t *testing.T, h http.HandlerFunc) *testServer {
	t.Helper()
	s := &testServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	s.addr = netip.MustParseAddrPort(s.Listener.Addr().String())
	return s
}

// clientFor returns a webhook client that trusts the test servers'
// certificate and allows exactly the given servers' addresses (loopback,
// refused by default) besides public ones.
func clientFor(t *testing.T, resolver HostResolver, allowed ...*testServer) *Client {
	t.Helper()
	pool := x509.NewCertPool()
	var allow []netip.AddrPort
	for _, s := range allowed {
		pool.AddCert(s.Certificate())
		allow = append(allow, s.addr)
	}
	if resolver == nil {
		resolver = newFakeResolver(nil)
	}
	return NewClient(Config{
		Resolver: resolver,
		CheckAddr: func(ap netip.AddrPort) error {
			for _, a := range allow {
				if ap == a {
					return nil
				}
			}
			return PublicOnly(ap)
		},
		TLSConfig:   &tls.Config{RootCAs: pool},
		Timeout:     5 * time.Second,
		DialTimeout: 2 * time.Second,
		Now:         func() time.Time { return time.Unix(1717243200, 0) },
	})
}

func TestPostSignsAndDelivers(t *testing.T) {
	secret := []byte("s3cret")
	type seen struct {
		header http.Header
		body   []byte
		host   string
	}
	got := make(chan seen, 1)
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Clone(), body, r.Host}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"ok":true}`)
	})
	// The test certificate is valid for example.com; resolve it to the
	// server, through the same resolver the dialer uses.
	resolver := newFakeResolver(map[string][]string{"example.com": {srv.addr.Addr().String()}})
	c := clientFor(t, resolver, srv)
	url := "https://example.com:" + strconv.Itoa(int(srv.addr.Port())) + "/hook"
	if err := c.CheckURL(context.Background(), url); err != nil {
		t.Fatalf("CheckURL: %v", err)
	}
	body := []byte(`{"event":"comment_added","id":100}`)
	resp, err := c.Post(context.Background(), Request{
		URL: url, Body: body, Secret: secret,
		Header: http.Header{"X-Tidings-Delivery": {"rule-7:event-100"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || string(resp.Body) != `{"ok":true}` || resp.Truncated {
		t.Errorf("response %+v", resp)
	}
	var s seen
	select {
	case s = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no request")
	}
	if string(s.body) != string(body) || s.host != "example.com:"+strconv.Itoa(int(srv.addr.Port())) {
		t.Errorf("server saw body %s host %s", s.body, s.host)
	}
	if s.header.Get("Content-Type") != "application/json" || s.header.Get("User-Agent") != "tidings-webhook/1" || s.header.Get("X-Tidings-Delivery") != "rule-7:event-100" {
		t.Errorf("headers %v", s.header)
	}
	if ts := s.header.Get(TimestampHeader); ts != "1717243200" {
		t.Errorf("timestamp %q", ts)
	}
	sig := s.header.Get(SignatureHeader)
	if want := Sign(secret, time.Unix(1717243200, 0), body); sig != want || !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 {
		t.Errorf("signature %q, want %q", sig, want)
	}
	now := time.Unix(1717243200+60, 0)
	if err := VerifySignature(secret, sig, s.header.Get(TimestampHeader), s.body, now, 5*time.Minute); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
	for name, check := range map[string]error{
		"wrong secret": VerifySignature([]byte("other"), sig, "1717243200", body, now, 5*time.Minute),
		"changed body": VerifySignature(secret, sig, "1717243200", append([]byte(" "), body...), now, 5*time.Minute),
		"changed time": VerifySignature(secret, sig, "1717243201", body, now, 5*time.Minute),
		"too old":      VerifySignature(secret, sig, "1717243200", body, now.Add(time.Hour), 5*time.Minute),
		"no prefix":    VerifySignature(secret, strings.TrimPrefix(sig, "sha256="), "1717243200", body, now, 5*time.Minute),
		"bad time":     VerifySignature(secret, sig, "yesterday", body, now, 5*time.Minute),
	} {
		if !errors.Is(check, ErrInvalidSignature) {
			t.Errorf("%s: %v; want ErrInvalidSignature", name, check)
		}
	}

	// Without a secret, no signature headers.
	if _, err := c.Post(context.Background(), Request{URL: url, Body: body}); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.header.Get(SignatureHeader) != "" || s.header.Get(TimestampHeader) != "" {
		t.Errorf("unsigned request carries %v", s.header)
	}
}

func TestPostRefusesUnsafeTargets(t *testing.T) {
	ctx := context.Background()
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	c := clientFor(t, nil) // allows nothing but public addresses
	for _, raw := range []string{srv.URL, "http://example.com/", "https://169.254.169.254/"} {
		_, err := c.Post(ctx, Request{URL: raw, Body: []byte(`{}`)})
		var we *Error
		if !errors.As(err, &we) || we.Retryable() {
			t.Errorf("%s: %v; want a non-retryable *Error", raw, err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests", n)
	}
}

func TestPostRedirects(t *testing.T) {
	ctx := context.Background()
	// other is a real, reachable server on loopback that the policy does
	// not allow: a redirect to it must be refused at connect time.
	other := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var target atomic.Value
	first := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/final" {
			io.WriteString(w, "arrived")
			return
		}
		http.Redirect(w, r, target.Load().(string), http.StatusTemporaryRedirect)
	})
	resolver := newFakeResolver(map[string][]string{
		"internal.example": {"10.0.0.1"},
		"example.com":      {other.addr.Addr().String()},
	})
	c := clientFor(t, resolver, first)

	// A redirect within the allowed server is followed (307 keeps the
	// POST and its body).
	target.Store(first.URL + "/final")
	resp, err := c.Post(ctx, Request{URL: first.URL + "/start", Body: []byte(`{}`)})
	if err != nil || string(resp.Body) != "arrived" {
		t.Fatalf("allowed redirect: %v %+v", err, resp)
	}

	for _, c2 := range []struct {
		target string
		want   string
	}{
		{other.URL + "/steal", "address 127.0.0.1 is loopback"},
		{"https://example.com:" + strconv.Itoa(int(other.addr.Port())) + "/steal", "example.com resolves to 127.0.0.1, which is loopback"},
		{"https://169.254.169.254/latest/meta-data/", "link-local"},
		{"https://internal.example/admin", "internal.example resolves to 10.0.0.1, which is private"},
		{"http://example.com/plain", "redirect refused: only https URLs are allowed; got http"},
	} {
		target.Store(c2.target)
		resp, err := c.Post(ctx, Request{URL: first.URL + "/start", Body: []byte(`{}`)})
		if err == nil {
			t.Errorf("redirect to %s: delivered (%+v)", c2.target, resp)
			continue
		}
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("redirect to %s:\n got %v\nwant it to contain %q", c2.target, err, c2.want)
		}
		var we *Error
		if errors.As(err, &we) && we.Retryable() {
			t.Errorf("redirect to %s: refusal is retryable", c2.target)
		}
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the disallowed server got %d requests through redirects", n)
	}

	// Too many redirects.
	target.Store(first.URL + "/again")
	if _, err := c.Post(ctx, Request{URL: first.URL + "/start", Body: []byte(`{}`)}); err == nil || !strings.Contains(err.Error(), "redirected more than 3 times") {
		t.Errorf("redirect loop: %v", err)
	}
	noRedirects := NewClient(Config{MaxRedirects: -1, CheckAddr: c.cfg.CheckAddr, TLSConfig: c.cfg.TLSConfig})
	target.Store(first.URL + "/final")
	if _, err := noRedirects.Post(ctx, Request{URL: first.URL + "/start", Body: []byte(`{}`)}); err == nil {
		t.Error("MaxRedirects -1 followed a redirect")
	}
}

// DNS rebinding: the name was public when the rule was saved, and resolves
// to a private address when the webhook is sent.
func TestPostRefusesRebinding(t *testing.T) {
	resolver := newFakeResolver(map[string][]string{"rebind.example.com": {"93.184.216.34", "10.0.0.1"}})
	c := clientFor(t, resolver)
	url := "https://rebind.example.com/hook"
	if err := c.CheckURL(context.Background(), url); err != nil {
		t.Fatalf("CheckURL while public: %v", err)
	}
	_, err := c.Post(context.Background(), Request{URL: url, Body: []byte(`{}`)})
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Addr.Addr() != netip.MustParseAddr("10.0.0.1") || ae.Host != "rebind.example.com" {
		t.Fatalf("err = %v; want the dialer to refuse 10.0.0.1", err)
	}
	if want := "webhook: POST https://rebind.example.com/…: dial tcp 10.0.0.1:443: webhook: rebind.example.com resolves to 10.0.0.1, which is private (10.0.0.0/8); webhooks may only reach public addresses"; err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
}

func TestPostResponses(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/big":
			w.Write([]byte(strings.Repeat("x", 100<<10)))
		case strings.HasPrefix(p, "/fail"):
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down for maintenance")
		case p == "/bad":
			w.WriteHeader(http.StatusBadRequest)
		case p == "/slow":
			io.Copy(io.Discard, r.Body) // then the server notices the client hanging up
			select {                    // answers only after the client gave up
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	c := clientFor(t, nil, srv)

	resp, err := c.Post(ctx, Request{URL: srv.URL + "/big", Body: []byte(`{}`)})
	if err != nil || len(resp.Body) != DefaultMaxResponseBytes || !resp.Truncated {
		t.Errorf("big response: err %v, %d bytes, truncated %v", err, len(resp.Body), resp != nil && resp.Truncated)
	}

	resp, err = c.Post(ctx, Request{URL: srv.URL + "/fail/secret-token", Body: []byte(`{}`)})
	var we *Error
	if !errors.As(err, &we) || we.StatusCode != 503 || !we.Retryable() || resp == nil || string(resp.Body) != "down for maintenance" {
		t.Errorf("503: %v %+v", err, resp)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error shows the URL's path: %v", err)
	}
	if _, err := c.Post(ctx, Request{URL: srv.URL + "/bad", Body: []byte(`{}`)}); !errors.As(err, &we) || we.StatusCode != 400 || we.Retryable() {
		t.Errorf("400: %v", err)
	}

	short := clientFor(t, nil, srv)
	short.client.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err = short.Post(ctx, Request{URL: srv.URL + "/slow", Body: []byte(`{}`)})
	if !errors.As(err, &we) || !we.Retryable() || time.Since(start) > 4*time.Second {
		t.Errorf("slow receiver: %v after %v; want a retryable timeout", err, time.Since(start))
	}

	hits := srv.hits.Load()
	if _, err := c.Post(ctx, Request{URL: srv.URL, Body: []byte(`{}`), Header: http.Header{"X-Note": {"a\r\nX-Evil: 1"}}}); err == nil || !strings.Contains(err.Error(), "CR or LF") {
		t.Errorf("header injection: %v", err)
	}
	big := make([]byte, DefaultMaxRequestBytes+1)
	if _, err := c.Post(ctx, Request{URL: srv.URL, Body: big}); err == nil || !strings.Contains(err.Error(), "at most 1048576") {
		t.Errorf("big request: %v", err)
	}
	if srv.hits.Load() != hits {
		t.Error("a refused request reached the server")
	}
}

// A host that does not answer, or answers 502/503/504, is a transport
// failure of its sink (the worker's breaker for "https://host" counts it);
// a refused address or another status is not.
func TestPostReportsTheSinkDown(t *testing.T) {
	ctx := context.Background()
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/400":
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	c := clientFor(t, nil, srv)
	sink := "https://" + srv.Listener.Addr().String()
	var ue *inbox.UnreachableError
	if _, err := c.Post(ctx, Request{URL: srv.URL + "/503", Body: []byte(`{}`)}); !errors.As(err, &ue) || ue.Sink != sink {
		t.Errorf("503: %v; want an UnreachableError of %s", err, sink)
	}
	if _, err := c.Post(ctx, Request{URL: srv.URL + "/400", Body: []byte(`{}`)}); err == nil || errors.Is(err, inbox.ErrSinkDown) {
		t.Errorf("400: %v; want an error that is not a sink failure", err)
	}
	srv.Close()
	if _, err := c.Post(ctx, Request{URL: srv.URL + "/", Body: []byte(`{}`)}); !errors.As(err, &ue) || ue.Sink != sink {
		t.Errorf("server gone: %v; want an UnreachableError of %s", err, sink)
	}
	if _, err := clientFor(t, nil).Post(ctx, Request{URL: "https://127.0.0.1:1/", Body: []byte(`{}`)}); err == nil || errors.Is(err, inbox.ErrSinkDown) {
		t.Errorf("refused address: %v; want an error that is not a sink failure", err)
	}
}
