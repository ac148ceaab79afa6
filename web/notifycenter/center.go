package notifycenter

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web"
)

// Center is the notification center: an http.Handler serving the JSON API
// and the live stream under Config.Prefix. It is safe for concurrent use;
// Close it when the server stops (its streams end).
type Center struct {
	cfg       Config
	hub       *hub
	announcer *Announcer
	mux       *http.ServeMux
}

// New checks cfg and returns the center. It connects to Redis when the
// first stream opens.
func New(cfg Config) (*Center, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ann, _ := NewAnnouncer(cfg.Redis, cfg.ChannelPrefix)
	c := &Center{cfg: cfg, hub: newHub(cfg.Redis, cfg.Logger), announcer: ann}
	p := cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/{$}", c.authorized(c.list))
	mux.HandleFunc("GET "+p+"/counts", c.authorized(c.counts))
	mux.HandleFunc("GET "+p+"/stream", c.authorized(c.stream))
	mux.HandleFunc("GET "+p+"/{id}", c.authorized(c.get))
	mux.HandleFunc("POST "+p+"/{id}/{op}", c.authorized(c.change))
	mux.HandleFunc("DELETE "+p+"/{id}", c.authorized(c.remove))
	mux.HandleFunc("POST "+p+"/read-all", c.authorized(c.readAll))
	mux.HandleFunc("POST "+p+"/seen", c.authorized(c.seen))
	if cfg.Push != nil {
		c.mountPush(mux)
	}
	c.mux = mux
	return c, nil
}

// Announcer returns the Announcer of the center's Redis and channels: the
// worker's notify inbox needs one like it (NewAnnouncer with the same
// Redis and ChannelPrefix, in the worker process).
func (c *Center) Announcer() *Announcer { return c.announcer }

// ServeHTTP implements http.Handler.
func (c *Center) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Close ends the Redis subscription and every open stream.
func (c *Center) Close() { c.hub.close() }

// NoTenantMessage is the message of the 403 (error "no_tenant") a center
// with Config.RequireTenant answers to a request without a tenant.
const NoTenantMessage = "no tenant: notifications belong to an organisation (a tenant), and this session has none; sign in as a member of one"

type recipientKey struct{}

// authorized runs h for the request's person: the web.Identity's (on the
// request's context, or from Config.Identity), in its tenant; else, for a
// request without an identity, Recipient's. It refuses nobody signed in
// (401), and a request without a tenant under RequireTenant (403).
func (c *Center) authorized(h func(w http.ResponseWriter, r *http.Request, recipient string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		var recipient string
		id, err := web.Identify(r, c.cfg.Identity)
		if err == nil {
			r = r.WithContext(web.WithIdentity(r.Context(), id)) // a refusal speaks their language too
		}
		switch {
		case errors.Is(err, web.ErrNoIdentity): // no identity: the deprecated hook
			if c.cfg.Recipient == nil {
				c.refuse(w, r, http.StatusForbidden, "forbidden", "notifycenter.error.no_identity")
				return
			}
			var ok bool
			if recipient, ok = c.cfg.Recipient(r); !ok || recipient == "" {
				c.refuse(w, r, http.StatusForbidden, "forbidden", "notifycenter.error.sign_in")
				return
			}
		case err != nil:
			c.cfg.Logger.ErrorContext(r.Context(), "notifycenter: identity lookup failed", "error", err)
			c.refuse(w, r, http.StatusInternalServerError, "internal", "notifycenter.error.identity")
			return
		case !id.SignedIn() || id.Recipient() == "":
			c.refuse(w, r, http.StatusUnauthorized, "unauthorized", "notifycenter.error.sign_in")
			return
		default:
			recipient = id.Recipient()
			if id.Tenant != nil {
				r = r.WithContext(activity.WithTenant(r.Context(), id.Tenant))
			}
		}
		if _, ok := activity.TenantFrom(r.Context()); !ok && c.cfg.RequireTenant {
			c.refuse(w, r, http.StatusForbidden, "no_tenant", "notifycenter.error.no_tenant")
			return
		}
		// PostgreSQL text holds no NUL byte: no notification can be
		// such a recipient's or tenant's, and the byte separates the two
		// in a stream's channel (Announcer.Channel).
		if strings.ContainsRune(recipient, 0) || strings.ContainsRune(inbox.TenantOf(r.Context()), 0) {
			c.refuse(w, r, http.StatusForbidden, "forbidden", "notifycenter.error.nul")
			return
		}
		h(w, r, recipient)
	}
}
