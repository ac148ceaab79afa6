package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/inbox"
)

// HostResolver looks up a host name's addresses. *net.Resolver implements
// it; tests pass a fake.
type HostResolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Config configures a Client. Zero fields take the
// documented defaults.
type Config struct {
	// Resolver looks up host names, both when a URL is checked and when
	// a request connects. Default net.DefaultResolver.
	Resolver HostResolver
	// CheckAddr decides whether an address may be connected to. It runs
	// on every address a URL's host resolves to when the URL is checked,
	// and in the dialer (net.Dialer.Control) on the very address each
	// connection is about to reach, so redirects and DNS answers that
	// change after the check (rebinding) are refused too. Default
	// PublicOnly.
	CheckAddr func(netip.AddrPort) error
	// Timeout caps one delivery: connecting, TLS, sending, redirects and
	// reading the response. Default 10s.
	Timeout time.Duration
	// DialTimeout caps connecting, and looking up a host when a URL is
	// checked. Default 5s.
	DialTimeout time.Duration
	// MaxRedirects caps the redirects followed, each checked like the
	// first URL (https only, public addresses only). Default 3; negative
	// follows none (a redirect is then an error).
	MaxRedirects int
	// MaxRequestBytes caps the request body. Default 1 MiB.
	MaxRequestBytes int
	// MaxResponseBytes caps how much of a response body is read; the rest
	// is dropped and Response.Truncated set. Default 64 KiB.
	MaxResponseBytes int
	// TLSConfig is the TLS configuration. Default: the system's roots,
	// TLS 1.2 at least (a lower MinVersion is raised).
	TLSConfig *tls.Config
	// Now is the clock that stamps signatures. Default time.Now.
	Now func() time.Time
	// UserAgent is sent with each request. Default "tidings-webhook/1".
	UserAgent string
}

// Defaults of Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultMaxRedirects     = 3
	DefaultMaxRequestBytes  = 1 << 20
	DefaultMaxResponseBytes = 64 << 10
	// DefaultMaxIdleConnsPerHost is how many idle connections the
	// client keeps to one host for the next posts: a worker's default
	// concurrency (inbox.Config.Concurrency) and then some.
	DefaultMaxIdleConnsPerHost = 32
	// MaxURLLength caps a webhook URL, in bytes.
	MaxURLLength = 2048
)

// Client delivers the HTTP webhook action: it checks URLs when a rule
// is saved (CheckURL) and posts signed requests (Post) through an
// http.Client that can only reach public addresses over https. It is safe
// for concurrent use.
type Client struct {
	cfg    Config
	client *http.Client
}

// NewClient returns a client with cfg's settings.
func NewClient(cfg Config) *Client {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.CheckAddr == nil {
		cfg.CheckAddr = PublicOnly
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "tidings-webhook/1"
	}
	tlsConfig := &tls.Config{}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	if tlsConfig.MinVersion < tls.VersionTLS12 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	c := &Client{cfg: cfg}
	transport := &http.Transport{
		Proxy:                 nil, // never a proxy from the environment: it would dial for us
		DialContext:           c.dial,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
		// A worker posts many deliveries at once to one host (a chat
		// service's webhooks, a busy subscriber): keep as many idle
		// connections to it as a worker runs at once, instead of Go's
		// default 2, or each post beyond them redoes a TLS handshake.
		MaxIdleConns:        4 * DefaultMaxIdleConnsPerHost,
		MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
	}
	c.client = &http.Client{
		Transport:     transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: c.checkRedirect,
	}
	return c
}

// HTTPClient returns the client's safe http.Client, for callers that build
// their own requests: its dialer refuses what CheckAddr refuses and it
// follows redirects only to https URLs. The first request's scheme is the
// caller's to check (CheckURL does).
func (c *Client) HTTPClient() *http.Client { return c.client }

// ErrInvalidURL is returned (inside a *URLError) for a
// webhook URL that may not be used.
var ErrInvalidURL = errors.New("webhook: invalid webhook URL")

// URLError reports a webhook URL that may not be used, and why.
type URLError struct {
	URL    string
	Reason string // for a rule problem's message: "only https URLs are allowed; got http"
	Err    error  // the *AddressError or lookup error behind it, if any
}

func (e *URLError) Error() string {
	return fmt.Sprintf("webhook: URL %s: %s", quote(e.URL), e.Reason)
}

// Is makes errors.Is(err, ErrInvalidURL) hold.
func (e *URLError) Is(target error) bool { return target == ErrInvalidURL }
func (e *URLError) Unwrap() error        { return e.Err }

// CheckURL checks a webhook URL when a rule is saved: it must be an
// absolute https URL without credentials, and its host must be a public
// address or a name whose every address is public (looked up now). It
// returns nil or a *URLError.
func (c *Client) CheckURL(ctx context.Context, raw string) error {
	u, err := c.checkURLSyntax(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // a literal, already checked
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	addrs, err := c.cfg.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return &URLError{URL: raw, Reason: fmt.Sprintf("host %s does not resolve: %v", host, lookupReason(err)), Err: err}
	}
	if len(addrs) == 0 {
		return &URLError{URL: raw, Reason: fmt.Sprintf("host %s has no addresses", host)}
	}
	port := urlPort(u)
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return &URLError{URL: raw, Reason: fmt.Sprintf("host %s resolves to an invalid address", host)}
		}
		ap := netip.AddrPortFrom(ip.Unmap().WithZone(a.Zone), port)
		if err := c.cfg.CheckAddr(ap); err != nil {
			return &URLError{URL: raw, Reason: fmt.Sprintf("host %s resolves to %s, which %s; webhooks may only reach public addresses", host, ip.Unmap(), addrReason(err)), Err: withHost(err, host)}
		}
	}
	return nil
}

// checkURLSyntax checks what can be checked without a lookup: scheme,
// host, credentials, port, and a literal address against CheckAddr.
func (c *Client) checkURLSyntax(raw string) (*url.URL, error) {
	bad := func(format string, args ...any) error {
		return &URLError{URL: raw, Reason: fmt.Sprintf(format, args...)}
	}
	if len(raw) > MaxURLLength {
		return nil, bad("is %d bytes; at most %d are allowed", len(raw), MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad("is not a URL: %v", err)
	}
	switch {
	case u.Scheme == "":
		return nil, bad("has no scheme; write an absolute https URL such as https://example.com/hook")
	case u.Scheme != "https":
		return nil, bad("only https URLs are allowed; got %s", u.Scheme)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, bad("has no host; write an absolute https URL such as https://example.com/hook")
	case u.User != nil:
		return nil, bad("must not carry credentials (user:password@); the rule's secret signs each request instead")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, bad("port %s is not between 1 and 65535", p)
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil, bad("host %s is loopback; webhooks may only reach public addresses", u.Hostname())
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		if err := c.cfg.CheckAddr(netip.AddrPortFrom(ip, urlPort(u))); err != nil {
			return nil, &URLError{URL: raw, Reason: fmt.Sprintf("address %s %s; webhooks may only reach public addresses", ip.WithZone(""), addrReason(err)), Err: err}
		}
	}
	return u, nil
}

func urlPort(u *url.URL) uint16 {
	if n, err := strconv.Atoi(u.Port()); err == nil {
		return uint16(n)
	}
	return 443
}

// addrReason extracts the reason of a CheckAddr error for a message.
func addrReason(err error) string {
	var ae *AddressError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return "is refused: " + err.Error()
}

func withHost(err error, host string) error {
	var ae *AddressError
	if errors.As(err, &ae) && ae.Host == "" {
		cp := *ae
		cp.Host = host
		return &cp
	}
	return err
}

func lookupReason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Err
	}
	return err.Error()
}

// dial connects to addr's host, resolved with the configured resolver,
// trying its addresses in order. Every connection passes through control,
// which refuses addresses CheckAddr refuses, before any packet is sent.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("webhook: bad port in %q", addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		addrs, err := c.cfg.Resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				ips = append(ips, ip.Unmap().WithZone(a.Zone))
			}
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	d := net.Dialer{
		Timeout: c.cfg.DialTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: cannot check address %q: %w", address, err)
			}
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			if err := c.cfg.CheckAddr(ap); err != nil {
				if _, perr := netip.ParseAddr(host); perr != nil {
					err = withHost(err, host) // name the host that resolved here
				}
				return err
			}
			return nil
		},
	}
	var firstErr error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// checkRedirect follows at most MaxRedirects redirects, to https URLs only;
// the dialer checks the addresses they reach.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.cfg.MaxRedirects < 0 || len(via) > c.cfg.MaxRedirects {
		return &errTooManyRedirects{max: max(c.cfg.MaxRedirects, 0)}
	}
	if _, err := c.checkURLSyntax(req.URL.String()); err != nil {
		var ue *URLError
		if errors.As(err, &ue) {
			ue.Reason = "redirect refused: " + ue.Reason
		}
		return err
	}
	return nil
}

// Request is one webhook delivery.
type Request struct {
	URL    string
	Body   []byte      // sent as is; Content-Type is application/json unless Header sets it
	Secret []byte      // when set, the request is signed (SignatureHeader, TimestampHeader)
	Header http.Header // more headers; values with CR or LF are refused
}

// Response is what a webhook's receiver answered.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte // at most MaxResponseBytes
	Truncated  bool   // the body was longer and was cut
}

// ErrFailed is returned (inside a *Error) when a delivery
// did not get a 2xx answer.
var ErrFailed = errors.New("webhook: delivery failed")

// Error reports a failed delivery: no answer (Err says why), or a
// status other than 2xx.
type Error struct {
	URL        string // redacted to scheme and host: paths and queries often hold secrets
	StatusCode int    // 0 when there was no answer
	Err        error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("webhook: POST %s: status %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("webhook: POST %s: %v", e.URL, e.Err)
}

// Is makes errors.Is(err, ErrFailed) hold.
func (e *Error) Is(target error) bool { return target == ErrFailed }
func (e *Error) Unwrap() error        { return e.Err }

// Retryable reports whether trying again later may succeed: a 5xx, 408 or
// 429 answer, or a network failure. A refusal of the configuration
// (Misconfigured: a refused URL or address, 401, 403, 404, 410, an
// untrusted certificate, ...), or another 4xx, is not.
func (e *Error) Retryable() bool {
	switch {
	case e.Misconfigured() != "":
		return false
	case e.StatusCode >= 500, e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode != 0:
		return false
	}
	return !errors.Is(e.Err, ErrForbiddenAddress) && !errors.Is(e.Err, ErrInvalidURL)
}

// Redact shows a URL's scheme and host only: paths and queries often hold
// secrets, so logs and errors show this instead.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// Post delivers a webhook: a POST of the body, signed when a secret is
// given, through the safe client. It returns the response (body capped at
// MaxResponseBytes) and, for a status other than 2xx, also a
// *Error; without an answer, only the *Error.
func (c *Client) Post(ctx context.Context, r Request) (*Response, error) {
	fail := func(err error) error { return &Error{URL: Redact(r.URL), Err: err} }
	if _, err := c.checkURLSyntax(r.URL); err != nil {
		redactURLError(err)
		return nil, fail(err)
	}
	if len(r.Body) > c.cfg.MaxRequestBytes {
		return nil, fail(fmt.Errorf("the body is %d bytes; at most %d are allowed", len(r.Body), c.cfg.MaxRequestBytes))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, fail(err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.ContainsAny(k, "\r\n") || strings.ContainsAny(v, "\r\n") {
				return nil, fail(fmt.Errorf("header %s has a CR or LF in its name or value", quote(k)))
			}
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if len(r.Secret) > 0 {
		now := c.cfg.Now()
		req.Header.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(SignatureHeader, Sign(r.Secret, now, r.Body))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the full URL
		}
		redactURLError(err)
		if misconfiguredTransport(err) == "" && ctx.Err() == nil {
			// No answer from the host: a transport failure of its sink, for
			// the worker's circuit breaker (a refusal by the client's rules
			// or at TLS is the setup's fault, not one: see Misconfigured).
			err = inbox.Unreachable(Sink(r.URL), err)
		}
		return nil, fail(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.cfg.MaxResponseBytes)+1))
	if err != nil {
		return nil, &Error{URL: Redact(r.URL), StatusCode: 0, Err: fmt.Errorf("reading the response: %w", err)}
	}
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if len(body) > c.cfg.MaxResponseBytes {
		out.Body, out.Truncated = body[:c.cfg.MaxResponseBytes], true
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{URL: Redact(r.URL), StatusCode: resp.StatusCode}
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			// The host (or its proxy) says it is down: its breaker counts it.
			e.Err = inbox.Unreachable(Sink(r.URL), fmt.Errorf("status %d", resp.StatusCode))
		}
		return out, e
	}
	return out, nil
}

// quote quotes a string for messages, truncated to 200 bytes.
func quote(s string) string {
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// Sink names a webhook URL's host for the worker's circuit breaker:
// "https://host[:port]" (no path: it often holds a secret).
func Sink(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "webhook"
	}
	return u.Scheme + "://" + u.Host
}
