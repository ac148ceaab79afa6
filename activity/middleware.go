package activity

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"regexp"
	"strings"
)

// MiddlewareConfig configures Middleware.
type MiddlewareConfig struct {
	// Actor returns the request's actor (a user model or a Ref), or nil
	// when nobody is signed in. Optional.
	Actor func(*http.Request) any
	// Tenant returns the request's tenant (the signed-in user's
	// organisation), put on the context with WithTenant, or nil when there
	// is none. Optional; needed by tenanted domains.
	Tenant func(*http.Request) any
	// Source is the metadata source. Default "web".
	Source string
	// TrustRequestID takes the request id from the X-Request-ID header
	// (and the correlation id from X-Correlation-ID) when they are safe
	// tokens; set it behind a proxy that sets them. Otherwise a random id
	// is generated.
	TrustRequestID bool
	// ClientIP returns the client's address. Default: the host of
	// r.RemoteAddr, without the zone of a link-local IPv6 address
	// (fe80::1%eth0: PostgreSQL's inet cannot store it, and recording
	// refuses an IP with one). Behind a proxy, supply one that reads your
	// proxy's header.
	ClientIP func(*http.Request) string
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Middleware puts the actor and request metadata on each request's context,
// so handlers record events in one line and every event says which request,
// address and browser it came from. The request id is also set on the
// response as X-Request-ID.
func Middleware(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.Source == "" {
		cfg.Source = "web"
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return ""
			}
			host, _, _ = strings.Cut(host, "%")
			return host
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			md := Metadata{Source: cfg.Source, IP: cfg.ClientIP(r), UserAgent: truncate(r.UserAgent(), 512)}
			if cfg.TrustRequestID {
				if id := r.Header.Get("X-Request-ID"); tokenRE.MatchString(id) {
					md.RequestID = id
				}
				if id := r.Header.Get("X-Correlation-ID"); tokenRE.MatchString(id) {
					md.CorrelationID = id
				}
			}
			if md.RequestID == "" {
				md.RequestID = newRequestID()
			}
			w.Header().Set("X-Request-ID", md.RequestID)
			ctx := WithMetadata(r.Context(), md)
			if cfg.Actor != nil {
				if a := cfg.Actor(r); a != nil {
					ctx = WithActor(ctx, a)
				}
			}
			if cfg.Tenant != nil {
				if t := cfg.Tenant(r); t != nil {
					ctx = WithTenant(ctx, t)
				}
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
