package privacy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Actions a Handler asks its Authorize hook about.
const (
	ActionExport = "export"
	ActionErase  = "erase"
)

// NoTenantMessage is the text of the 403 a Handler answers to a session
// without a tenant when a domain is tenanted (and the app's person ids
// are not global: Config.PersonsAcrossTenants).
const NoTenantMessage = "no tenant: this page shows one person's data within a tenant (an organisation, a workspace), and the session has none"

// ErrForbidden is what an Authorize hook returns (possibly wrapped) to
// refuse a request: the handler answers 403.
var ErrForbidden = errors.New("privacy: forbidden")

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Privacy does the work. Required.
	Privacy *Privacy
	// DB is the pool. Required. With AllowErase under row-level
	// security, it is the operator's (an erasure writes the operator's
	// tables: as the app's role, POST answers 500, having changed nothing,
	// and logs ErrNeedsOperator); an export alone runs as the app's role.
	DB *gorm.DB
	// Authorize says whose data the request may export or erase (action
	// is ActionExport or ActionErase), and who is asking (recorded with
	// an erasure). Return an error wrapping ErrForbidden to answer 403;
	// any other error answers 500. Required: the handler has no opinion
	// on who may see whose data.
	Authorize func(r *http.Request, action string) (person activity.Person, requestedBy string, err error)
	// AllowErase lets POST erase. Default false: the handler only exports.
	AllowErase bool
	// Settle, when positive, makes POST wait up to Settle for deliveries
	// of the person's events in flight, and erase again what they copied
	// (Privacy.EraseSettled). Default 0: one Erase.
	Settle time.Duration
	// AfterErase is called after a successful erasure, to answer: redirect
	// to a page, or write JSON. Default: 200 with a short text that names
	// the erasure record.
	AfterErase func(w http.ResponseWriter, r *http.Request, e Erasure)
	// Logger logs failures. Default slog.Default().
	Logger *slog.Logger
}

// Handler serves one person's data: GET downloads the export as JSON lines
// (Content-Disposition attachment), POST erases it (when AllowErase). Mount
// it where the app's routing puts it; Authorize decides whose data a
// request reaches, and the request's context its tenant (set by
// activity.Middleware): a session without one answers 403 with
// NoTenantMessage when a domain is tenanted, before any read.
type Handler struct {
	cfg HandlerConfig
}

// NewHandler checks cfg and returns a Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	switch {
	case cfg.Privacy == nil:
		return nil, fmt.Errorf("%w: HandlerConfig.Privacy is nil", ErrInvalidConfig)
	case cfg.DB == nil:
		return nil, fmt.Errorf("%w: HandlerConfig.DB is nil", ErrInvalidConfig)
	case cfg.Authorize == nil:
		return nil, fmt.Errorf("%w: HandlerConfig.Authorize is nil; say whose data a request may reach", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := ActionExport
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if !h.cfg.AllowErase {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "erasure is not enabled here", http.StatusMethodNotAllowed)
			return
		}
		action = ActionErase
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, by, err := h.cfg.Authorize(r, action)
	switch {
	case errors.Is(err, ErrForbidden):
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case err != nil:
		h.cfg.Logger.Error("privacy: authorize", "action", action, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := p.Validate(); err != nil {
		h.cfg.Logger.Error("privacy: Authorize returned an invalid person", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// A person is an identity within a tenant: a session without one (or
	// with a key the domains cannot hold) reaches nobody's data.
	if _, err := h.cfg.Privacy.scope(r.Context()); err != nil {
		switch {
		case errors.Is(err, activity.ErrNoTenant):
			http.Error(w, NoTenantMessage, http.StatusForbidden)
		case errors.Is(err, activity.ErrInvalidTenant):
			http.Error(w, "the session's tenant is not a valid tenant key", http.StatusBadRequest)
		default:
			h.cfg.Logger.Error("privacy: scope", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	if action == ActionErase {
		var e Erasure
		var err error
		if h.cfg.Settle > 0 {
			e, err = h.cfg.Privacy.EraseSettled(r.Context(), h.cfg.DB, p, Request{By: by}, h.cfg.Settle)
			if errors.Is(err, ErrInFlight) {
				h.cfg.Logger.Warn("privacy: erased, but deliveries still in flight may copy the data again", "person", p.Ref().String(), "err", err)
				err = nil
			}
		} else {
			e, err = h.cfg.Privacy.Erase(r.Context(), h.cfg.DB, p, Request{By: by})
		}
		if err != nil {
			h.cfg.Logger.Error("privacy: erase", "person", p.Ref().String(), "err", err)
			http.Error(w, "erasure failed; nothing was changed", http.StatusInternalServerError)
			return
		}
		if h.cfg.AfterErase != nil {
			h.cfg.AfterErase(w, r, e)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "erased: record %d\n", e.ID)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="export.jsonl"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	if err := h.cfg.Privacy.Export(r.Context(), h.cfg.DB, p, w); err != nil {
		// The status is sent; the missing end line tells the reader.
		h.cfg.Logger.Error("privacy: export", "person", p.Ref().String(), "err", err)
	}
}
