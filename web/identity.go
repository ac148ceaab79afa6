package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tidingsdev/tidings/activity"
)

// Identity answers "who is this request" for every mounted page and for
// the recording middleware: the app's user lookup, done once per request.
type Identity struct {
	// Person is the signed-in person. The zero Ref: nobody is signed in,
	// and the pages that need a person refuse the request (401).
	Person activity.Ref
	// Label is the person's display name ("Ana"). Optional.
	Label string
	// Tenant is the tenant key of the request, of the type the app's
	// tenanted domains use (int64, string, uuid.UUID, ...). nil in an
	// untenanted app; a tenanted page refuses a request without one (403).
	Tenant any
	// Admin reports that the person may administer the tenant: edit its
	// rules, see the operations page and browse its events.
	Admin bool
	// Locale is the person's language (BCP 47, "de"); "" uses the
	// Accept-Language header and then the catalog's fallback.
	Locale string
}

// SignedIn reports whether a person is signed in.
func (id Identity) SignedIn() bool { return !id.Person.IsZero() }

// Recipient is the person's key as inboxes store recipients ("7"): the
// Person's ID. "" when nobody is signed in.
func (id Identity) Recipient() string { return id.Person.ID }

// IdentityFunc looks up the identity of a request (the app's session
// lookup). A nil error with a zero Person means nobody is signed in; an
// error fails the request (500) and is logged.
type IdentityFunc func(r *http.Request) (Identity, error)

type identityKey struct{}

// WithIdentity returns ctx carrying id: what Middleware does for each
// request, so every page and the recorder read the same identity.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity WithIdentity put on ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// ErrNoIdentity is returned by Identify when the request carries no
// identity and no IdentityFunc is given: the app mounted a page without
// Middleware and without an identity hook.
var ErrNoIdentity = errors.New("web: no identity: wrap the handler in web.Middleware or give the page an IdentityFunc")

// Identify returns the identity already on r's context (Middleware put it
// there), else fn(r). With neither it returns ErrNoIdentity, so a page
// mounted without any identity refuses every request.
func Identify(r *http.Request, fn IdentityFunc) (Identity, error) {
	if id, ok := IdentityFrom(r.Context()); ok {
		return id, nil
	}
	if fn == nil {
		return Identity{}, ErrNoIdentity
	}
	id, err := fn(r)
	if err != nil {
		return Identity{}, fmt.Errorf("web: identity: %w", err)
	}
	return id, nil
}

// Middleware calls fn once per request and puts its identity on the
// request's context (WithIdentity), for every mounted page and for the
// app's handlers (IdentityFrom). A request that already carries one keeps
// it. An error from fn answers 500 and is logged to logger (nil:
// slog.Default()).
func Middleware(fn IdentityFunc, logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := IdentityFrom(r.Context()); ok || fn == nil {
				next.ServeHTTP(w, r)
				return
			}
			id, err := fn(r)
			if err != nil {
				logger.ErrorContext(r.Context(), "web: identity lookup failed", "path", r.URL.Path, "error", err)
				http.Error(w, "who you are could not be checked just now; try again", http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}
