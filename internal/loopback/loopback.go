// Package loopback serves the local peers' HTTP APIs (inbox/sms/twiliotest,
// inbox/mobilepush/fcmtest and apnstest, inbox/chat/discord/discordtest
// and teams/teamstest) on 127.0.0.1, for tests and for an app's dev mode:
// one way to listen, pick plain HTTP, TLS or TLS with HTTP/2, and report a
// port that cannot be had as an error instead of httptest's panic.
//
//	srv, err := loopback.Serve(handler, loopback.HTTP2)
//	// srv.URL is "https://127.0.0.1:PORT"; srv.Client() trusts its certificate
//	defer srv.Close()
package loopback

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
)

// Mode is how a server speaks.
type Mode int

// The modes.
const (
	// HTTP is plain HTTP/1.1 ("http://127.0.0.1:PORT").
	HTTP Mode = iota
	// TLS is HTTP/1.1 over TLS, with httptest's certificate for
	// 127.0.0.1 ("https://127.0.0.1:PORT").
	TLS
	// HTTP2 is TLS offering HTTP/2 as well (ALPN h2).
	HTTP2
)

// Serve starts h on a free port of 127.0.0.1 in mode m. The server's
// Client trusts its certificate; Close stops it. Its own errors (a
// client's failed TLS handshake) are not logged: a peer's answers are
// what it records.
func Serve(h http.Handler, m Mode) (*httptest.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}}
	switch m {
	case HTTP:
		s.Start()
	case TLS:
		s.StartTLS()
	case HTTP2:
		s.EnableHTTP2 = true
		s.StartTLS()
	default:
		ln.Close()
		return nil, fmt.Errorf("loopback: unknown mode %d", m)
	}
	return s, nil
}
