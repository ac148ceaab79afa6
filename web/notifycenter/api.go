package notifycenter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web"
)

// Ref is an actor or record as the API shows it.
type Ref struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Label string `json:"label,omitempty"`
}

// Item is one notification as the API and the stream show it.
type Item struct {
	ID         int64      `json:"id"`
	Seq        int64      `json:"seq"`
	Domain     string     `json:"domain"`
	EventID    int64      `json:"event_id"`
	Action     string     `json:"action"`
	SubjectID  string     `json:"subject_id"`
	Actor      Ref        `json:"actor"`
	Record     *Ref       `json:"record,omitempty"`
	OccurredAt time.Time  `json:"occurred_at"`
	CreatedAt  time.Time  `json:"created_at"`
	SeenAt     *time.Time `json:"seen_at"`
	ReadAt     *time.Time `json:"read_at"`
	ArchivedAt *time.Time `json:"archived_at"`
	Unread     bool       `json:"unread"`
	Description
}

// ListResponse is GET {prefix}/.
type ListResponse struct {
	Notifications []Item        `json:"notifications"`
	Next          string        `json:"next,omitempty"` // the after= of the next page
	Counts        notify.Counts `json:"counts"`
}

// ChangeResponse answers a change.
type ChangeResponse struct {
	Changed int64         `json:"changed"` // how many notifications changed
	Counts  notify.Counts `json:"counts"`
}

// ErrorResponse is every error's body.
type ErrorResponse struct {
	Error   string `json:"error"`   // a code: "not_found", "bad_request", "forbidden"
	Message string `json:"message"` // what was wrong and what is allowed
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorResponse{Error: code, Message: msg})
}

// refuse answers the JSON error code with the message of key (with args)
// in the reader's words.
func (c *Center) refuse(w http.ResponseWriter, r *http.Request, status int, code, key string, args ...any) {
	id, _ := web.IdentityFrom(r.Context())
	writeError(w, status, code, c.cfg.Words.Text(c.cfg.Words.Locale(r, id), key, args...))
}

func (c *Center) items(ctx context.Context, ns []notify.Notification) ([]Item, error) {
	out := make([]Item, len(ns))
	var ds []Description
	if c.cfg.Describe != nil && len(ns) > 0 {
		var err error
		if ds, err = c.cfg.Describe(ctx, ns); err != nil {
			return nil, err
		}
	}
	for i, n := range ns {
		it := Item{ID: n.ID, Seq: n.Seq, Domain: n.Event.Domain, EventID: n.Event.ID, Action: n.Action, SubjectID: n.SubjectID,
			Actor:      Ref{Type: n.Actor.Type, ID: n.Actor.ID, Label: n.Actor.Label},
			OccurredAt: n.OccurredAt, CreatedAt: n.CreatedAt, SeenAt: n.SeenAt, ReadAt: n.ReadAt, ArchivedAt: n.ArchivedAt, Unread: n.Unread()}
		if n.Record != nil {
			it.Record = &Ref{Type: n.Record.Type, ID: n.Record.ID, Label: n.Record.Label}
		}
		if i < len(ds) {
			it.Description = ds[i]
		}
		out[i] = it
	}
	return out, nil
}

func (c *Center) fail(w http.ResponseWriter, r *http.Request, err error) {
	c.cfg.Logger.ErrorContext(r.Context(), "notifycenter: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	c.refuse(w, r, http.StatusInternalServerError, "internal", "notifycenter.error.internal")
}

// list serves GET {prefix}/?after=&limit=&unread=1&archived=1.
func (c *Center) list(w http.ResponseWriter, r *http.Request, recipient string) {
	qs := r.URL.Query()
	q := notify.Query{Recipient: recipient, After: notify.Cursor(qs.Get("after")), Limit: c.cfg.PageSize,
		UnreadOnly: qs.Get("unread") == "1", Archived: qs.Get("archived") == "1"}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			c.refuse(w, r, http.StatusBadRequest, "bad_request", "notifycenter.error.limit")
			return
		}
		q.Limit = n
	}
	page, err := notify.List(r.Context(), c.cfg.DB, q)
	if errors.Is(err, notify.ErrInvalidCursor) {
		c.refuse(w, r, http.StatusBadRequest, "bad_request", "notifycenter.error.cursor")
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	resp := ListResponse{Next: string(page.Next)}
	if resp.Notifications, err = c.items(r.Context(), page.Notifications); err != nil {
		c.fail(w, r, err)
		return
	}
	if resp.Counts, err = notify.CountsOf(r.Context(), c.cfg.DB, recipient); err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (c *Center) counts(w http.ResponseWriter, r *http.Request, recipient string) {
	counts, err := notify.CountsOf(r.Context(), c.cfg.DB, recipient)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, counts)
}

// parseID reads the {id} path value; a malformed or overflowing one is
// no notification of anyone's.
func (c *Center) parseID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.refuse(w, r, http.StatusNotFound, "not_found", "notifycenter.error.bad_id")
		return 0, false
	}
	return id, true
}

func (c *Center) get(w http.ResponseWriter, r *http.Request, recipient string) {
	id, ok := c.parseID(w, r)
	if !ok {
		return
	}
	n, err := notify.Get(r.Context(), c.cfg.DB, recipient, id)
	if errors.Is(err, notify.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, "not_found", "notifycenter.error.not_yours", strconv.FormatInt(id, 10))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	items, err := c.items(r.Context(), []notify.Notification{n})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items[0])
}

var ops = map[string]func(ctx context.Context, c *Center, recipient string, id int64) (bool, error){
	"read": func(ctx context.Context, c *Center, r string, id int64) (bool, error) {
		return notify.MarkRead(ctx, c.cfg.DB, r, id)
	},
	"unread": func(ctx context.Context, c *Center, r string, id int64) (bool, error) {
		return notify.MarkUnread(ctx, c.cfg.DB, r, id)
	},
	"archive": func(ctx context.Context, c *Center, r string, id int64) (bool, error) {
		return notify.Archive(ctx, c.cfg.DB, r, id)
	},
	"unarchive": func(ctx context.Context, c *Center, r string, id int64) (bool, error) {
		return notify.Unarchive(ctx, c.cfg.DB, r, id)
	},
	"delete": func(ctx context.Context, c *Center, r string, id int64) (bool, error) {
		return notify.Delete(ctx, c.cfg.DB, r, id)
	},
}

// change serves POST {prefix}/{id}/read|unread|archive|unarchive|delete.
func (c *Center) change(w http.ResponseWriter, r *http.Request, recipient string) {
	op, ok := ops[r.PathValue("op")]
	if !ok {
		c.refuse(w, r, http.StatusNotFound, "not_found", "notifycenter.error.unknown_change", r.PathValue("op"))
		return
	}
	id, ok := c.parseID(w, r)
	if !ok {
		return
	}
	c.apply(w, r, recipient, func(ctx context.Context) (int64, error) {
		changed, err := op(ctx, c, recipient, id)
		if changed {
			return 1, err
		}
		if err == nil {
			if _, gerr := notify.Get(ctx, c.cfg.DB, recipient, id); errors.Is(gerr, notify.ErrNotFound) {
				return 0, gerr
			}
		}
		return 0, err
	})
}

func (c *Center) remove(w http.ResponseWriter, r *http.Request, recipient string) {
	r.SetPathValue("op", "delete")
	c.change(w, r, recipient)
}

func (c *Center) readAll(w http.ResponseWriter, r *http.Request, recipient string) {
	c.apply(w, r, recipient, func(ctx context.Context) (int64, error) { return notify.MarkAllRead(ctx, c.cfg.DB, recipient) })
}

func (c *Center) seen(w http.ResponseWriter, r *http.Request, recipient string) {
	c.apply(w, r, recipient, func(ctx context.Context) (int64, error) { return notify.MarkSeen(ctx, c.cfg.DB, recipient) })
}

// apply runs a change, tells the recipient's streams in every process, and
// answers JSON, or, for a form with a back field (a page without
// JavaScript), redirects there.
func (c *Center) apply(w http.ResponseWriter, r *http.Request, recipient string, f func(ctx context.Context) (int64, error)) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	back := ""
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		back = localPath(r.PostFormValue("back"))
	}
	n, err := f(r.Context())
	if errors.Is(err, notify.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, "not_found", "notifycenter.error.not_yours", r.PathValue("id"))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if n > 0 {
		if err := c.announcer.Changed(r.Context(), recipient); err != nil {
			c.cfg.Logger.WarnContext(r.Context(), "notifycenter: could not tell open streams of a change; they catch up on their recheck", "error", err)
		}
	}
	if back != "" {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	counts, err := notify.CountsOf(r.Context(), c.cfg.DB, recipient)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ChangeResponse{Changed: n, Counts: counts})
}

// localPath returns p when it is a path on this site, else "".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	return p
}
