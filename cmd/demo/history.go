package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// inboxArchive is the demo's "warehouse": an inbox that copies events into
// event_archive. It accepts no live events; the History page backfills the
// domain's history into it.
const inboxArchive = "archive"

// startHistory makes the archive inbox (one of the demo's inboxes; the
// History page backfills it through the client's backfiller).
func (a *App) startHistory() error {
	// The archive takes no live events: it is the "new inbox" of the demo,
	// filled by backfills only.
	a.hist.archive = inbox.Func(inboxArchive, func(string, string) bool { return false }, func(ctx context.Context, d *inbox.Delivery) error {
		_, err := d.Once(ctx, d.DB, "", func(tx *gorm.DB) error {
			return tx.Exec(`INSERT INTO event_archive (event_id, action, subject_id, archived_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				d.Event.ID, d.Event.Action, d.Event.SubjectID, a.cfg.Now()).Error
		})
		return err
	})
	return nil
}

// webhookClient posts the webhook subscriptions' deliveries. The private
// addresses it may reach: in dev mode the process's own receiver (a TLS
// server on loopback), and the one configured (-webhook-receiver), which
// every process of the demo reaches alike.
func (a *App) webhookClient() (*webhook.Client, error) {
	h := &a.hist
	var allowed []netip.AddrPort
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !a.cfg.NoDev {
		h.receiver = newReceiver()
		pool.AddCert(h.receiver.srv.Certificate())
		allowed = append(allowed, netip.MustParseAddrPort(h.receiver.srv.Listener.Addr().String()))
	}
	if a.cfg.WebhookReceiver != "" {
		pem, err := os.ReadFile(a.cfg.WebhookCA)
		if err != nil {
			return nil, fmt.Errorf("-webhook-ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-webhook-ca %s: no PEM certificate in it", a.cfg.WebhookCA)
		}
		allowed = append(allowed, netip.MustParseAddrPort(a.cfg.WebhookReceiver))
	}
	if len(allowed) == 0 {
		return webhook.NewClient(webhook.Config{}), nil
	}
	return webhook.NewClient(webhook.Config{
		CheckAddr: func(ap netip.AddrPort) error {
			if slices.Contains(allowed, ap) {
				return nil
			}
			return webhook.PublicOnly(ap)
		},
		TLSConfig: &tls.Config{RootCAs: pool},
	}), nil
}

func (a *App) historyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /history", a.historyPage)
	mux.HandleFunc("POST /history/backfills", a.startBackfill)
	mux.HandleFunc("GET /history/catalog", a.catalogPage)
	mux.HandleFunc("GET /history/catalog.json", a.catalogJSON)
	mux.HandleFunc("GET /history/imports", a.importsPage)
	mux.HandleFunc("POST /history/imports", a.importComments)
	mux.HandleFunc("POST /history/imports/{id}/retract", a.retractImport)
	mux.HandleFunc("GET /history/webhooks", a.webhooksPage)
	mux.HandleFunc("POST /history/webhooks", a.subscribeWebhook)
}

func (h *history) close() {
	if h.backfiller != nil {
		h.backfiller.Close()
	}
	if h.receiver != nil {
		h.receiver.srv.Close()
	}
}

// historyPage shows the archive inbox and its backfills, with progress.
func (a *App) historyPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var archived, events int64
	// this organisation's events (the archive inbox serves every one)
	a.db.WithContext(ctx).Raw(`SELECT count(*) FROM event_archive a JOIN issue_events e ON e.id = a.event_id WHERE e.tenant_id = ?`, orgOf(ctx)).Scan(&archived)
	a.db.WithContext(ctx).Raw(`SELECT count(*) FROM issue_events WHERE tenant_id = ? AND retracted_at IS NULL`, orgOf(ctx)).Scan(&events)
	bs, err := inbox.ListBackfills(ctx, a.db, 20)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	running := false
	for _, b := range bs {
		running = running || b.Status == inbox.BackfillRunning || b.Status == inbox.BackfillPending
	}
	a.render(w, r, http.StatusOK, "history", "History", "history", map[string]any{
		"Archived": archived, "Events": events, "Backfills": bs, "Running": running, "Error": r.URL.Query().Get("error"),
	})
}

// startBackfill replays the issue domain's history into the archive inbox,
// in the background, at the backfiller's 50 events/s (slow enough to watch).
func (a *App) startBackfill(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	if me == nil {
		http.Error(w, "pick who you are first", http.StatusForbidden)
		return
	}
	q := inbox.BackfillQuery{Domain: a.issues.Name()}
	if act := r.FormValue("action"); act != "" {
		if err := a.issues.CheckAction(act); err != nil {
			http.Redirect(w, r, "/history?error="+urlQuery(err.Error()), http.StatusSeeOther)
			return
		}
		q.Actions = []string{act}
	}
	b, err := a.hist.backfiller.Create(r.Context(), inbox.BackfillSpec{Inbox: inboxArchive, Query: q, By: "users:" + strconv.FormatInt(me.ID, 10)})
	if err != nil {
		http.Redirect(w, r, "/history?error="+urlQuery(err.Error()), http.StatusSeeOther)
		return
	}
	a.hist.wg.Add(1)
	go func() {
		defer a.hist.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-a.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := a.hist.backfiller.Run(ctx, b.ID); err != nil && !errors.Is(err, context.Canceled) {
			a.cfg.Log("backfill %d: %v", b.ID, err)
		}
	}()
	http.Redirect(w, r, "/history", http.StatusSeeOther)
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// catalogPage shows the event catalog of the issue domain.
func (a *App) catalogPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "catalog", "Event catalog", "history", activity.NewCatalog(a.issues))
}

func (a *App) catalogJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(activity.NewCatalog(a.issues).JSON())
}

// commentImport is one CSV import of comments.
type commentImport struct {
	ID            int64
	Name          string
	CorrelationID string
	Rows          int
	CreatedBy     int64
	CreatedAt     time.Time
	RetractedAt   *time.Time
	Reason        *string
}

// importsPage lists the CSV imports, with a form for a new one.
func (a *App) importsPage(w http.ResponseWriter, r *http.Request) {
	var imps []commentImport
	if err := a.db.WithContext(r.Context()).Raw(`SELECT id, name, correlation_id, rows, created_by, created_at, retracted_at, reason FROM comment_imports WHERE org_id = ? ORDER BY id DESC LIMIT 50`, orgOf(r.Context())).Scan(&imps).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	var delivered []inbox.Entry
	if id, _ := strconv.ParseInt(r.URL.Query().Get("retracted"), 10, 64); id > 0 {
		var corr string
		a.db.WithContext(r.Context()).Raw(`SELECT correlation_id FROM comment_imports WHERE id = ? AND org_id = ?`, id, orgOf(r.Context())).Scan(&corr)
		var refs []activity.EventRef
		for e, err := range a.issues.Replay(r.Context(), a.db, activity.HistoryQuery{CorrelationID: corr, Retracted: activity.OnlyRetracted}, 0) {
			if err != nil {
				a.fail(w, r, err)
				return
			}
			refs = append(refs, e.Ref())
		}
		var err error
		if delivered, err = inbox.Delivered(r.Context(), a.db, refs); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	a.render(w, r, http.StatusOK, "imports", "Imports", "history", map[string]any{
		"Imports": imps, "Error": r.URL.Query().Get("error"), "Delivered": delivered, "Retracted": r.URL.Query().Get("retracted"),
	})
}

// maxImportRows caps one CSV import.
const maxImportRows = 500

// importComments adds the comments of a CSV (issue_id,body per line) as
// the signed-in user, each with a comment_added event carrying the
// import's correlation id and tags: one import can be retracted as a whole.
func (a *App) importComments(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	if me == nil {
		http.Error(w, "pick who you are first", http.StatusForbidden)
		return
	}
	back := func(msg string) { http.Redirect(w, r, "/history/imports?error="+urlQuery(msg), http.StatusSeeOther) }
	name := strings.TrimSpace(r.FormValue("name"))
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		back("Name the import (1 to 100 characters).")
		return
	}
	rows, err := csv.NewReader(io.LimitReader(strings.NewReader(r.FormValue("csv")), 1<<20)).ReadAll()
	if err != nil {
		back("The CSV does not parse: " + err.Error())
		return
	}
	if len(rows) == 0 || len(rows) > maxImportRows {
		back(fmt.Sprintf("Give 1 to %d lines of issue_id,body.", maxImportRows))
		return
	}
	var nonce [6]byte
	rand.Read(nonce[:])
	corr := "import-" + hex.EncodeToString(nonce[:])
	ctx := activity.WithMetadata(r.Context(), activity.Metadata{CorrelationID: corr, RequestID: corr, Source: "import"})
	ctx = activity.WithTags(ctx, map[string]string{"import": name})
	ctx = activity.WithActor(ctx, me)
	err = a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i, row := range rows {
			if len(row) != 2 {
				return fmt.Errorf("line %d: want issue_id,body; got %d fields", i+1, len(row))
			}
			id, err := strconv.ParseInt(strings.TrimSpace(row[0]), 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("line %d: issue id %q is not a positive number", i+1, row[0])
			}
			body := strings.TrimSpace(row[1])
			if body == "" || utf8.RuneCountInString(body) > 10000 || !utf8.ValidString(body) || strings.ContainsRune(body, 0) {
				return fmt.Errorf("line %d: the body must be 1 to 10,000 characters of text", i+1)
			}
			var n int64
			if err := tx.Model(&Issue{}).Where("id = ? AND org_id = ?", id, me.OrgID).Count(&n).Error; err != nil { // an issue of this organisation
				return err
			}
			if n == 0 {
				return fmt.Errorf("line %d: there is no issue %d", i+1, id)
			}
			c := Comment{IssueID: id, AuthorID: &me.ID, Body: body}
			if err := tx.Create(&c).Error; err != nil {
				return err
			}
			if _, err := a.issues.RecordEvent(ctx, tx, id, ActionCommentAdded, activity.Record(&c),
				activity.ExtraOf(commentExtra{Length: utf8.RuneCountInString(body), Import: name})); err != nil {
				return err
			}
		}
		return tx.Exec(`INSERT INTO comment_imports (name, correlation_id, rows, created_by, created_at, org_id) VALUES (?, ?, ?, ?, ?, ?)`,
			name, corr, len(rows), me.ID, a.cfg.Now(), me.OrgID).Error
	})
	if err != nil {
		back("Nothing was imported: " + err.Error())
		return
	}
	http.Redirect(w, r, "/history/imports", http.StatusSeeOther)
}

// retractImport retracts an import: its events are marked retracted (feeds
// hide them), import_retracted is recorded on each issue, the imported
// comments are deleted, and the page lists what was delivered already.
func (a *App) retractImport(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	if me == nil {
		http.Error(w, "pick who you are first", http.StatusForbidden)
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	reason := strings.TrimSpace(r.FormValue("reason"))
	if reason == "" {
		reason = "retracted from the Imports page"
	}
	var imp commentImport
	err := a.db.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT id, name, correlation_id FROM comment_imports WHERE id = ? AND org_id = ? AND retracted_at IS NULL FOR UPDATE`, id, me.OrgID).Scan(&imp).Error; err != nil {
			return err
		}
		if imp.ID == 0 {
			return errors.New("that import does not exist or was retracted already")
		}
		res, err := a.issues.Retract(r.Context(), tx, activity.Retraction{CorrelationID: imp.CorrelationID, Reason: reason, Action: ActionImportRetracted, Actor: me})
		if err != nil {
			return err
		}
		for _, e := range res.Retracted {
			if rec := e.Record(); rec != nil && rec.Type == "comments" {
				if err := tx.Exec(`DELETE FROM comments WHERE id = ?`, rec.ID).Error; err != nil {
					return err
				}
			}
		}
		return tx.Exec(`UPDATE comment_imports SET retracted_at = ?, retracted_by = ?, reason = ? WHERE id = ?`, a.cfg.Now(), me.ID, reason, id).Error
	})
	if err != nil {
		http.Redirect(w, r, "/history/imports?error="+urlQuery(err.Error()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/history/imports?retracted="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// webhooksPage lists the webhook subscriptions and, in dev mode, what the
// local receiver got.
func (a *App) webhooksPage(w http.ResponseWriter, r *http.Request) {
	subs, err := a.client.Webhooks().List(r.Context(), a.issues.Name())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data := map[string]any{"Subscriptions": subs, "Error": r.URL.Query().Get("error"), "ExtraReceiver": a.cfg.WebhookReceiver}
	if rc := a.hist.receiver; rc != nil {
		data["ReceiverURL"], data["ReceiverSecret"], data["Received"] = rc.url(), rc.secret, rc.list()
	}
	a.render(w, r, http.StatusOK, "webhooks", "Webhooks", "history", data)
}

func (a *App) subscribeWebhook(w http.ResponseWriter, r *http.Request) {
	me := a.currentUser(r)
	if me == nil {
		http.Error(w, "pick who you are first", http.StatusForbidden)
		return
	}
	var actions []string
	if act := r.FormValue("action"); act != "" {
		actions = []string{act}
	}
	_, err := a.client.Webhooks().Subscribe(r.Context(), "users:"+strconv.FormatInt(me.ID, 10), webhook.SubscriptionSpec{
		Domain: a.issues.Name(), Actions: actions, URL: strings.TrimSpace(r.FormValue("url")), Secret: r.FormValue("secret"),
	})
	if err != nil {
		http.Redirect(w, r, "/history/webhooks?error="+urlQuery(err.Error()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/history/webhooks", http.StatusSeeOther)
}

// receiver is the dev-mode webhook receiver: an https server on loopback
// that checks each delivery's signature and keeps the last ones.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []receivedHook
}

type receivedHook struct {
	At        time.Time
	Type      string
	ID        string
	Valid     bool
	Signature string
	Body      string
}

func newReceiver() *receiver {
	var b [12]byte
	rand.Read(b[:])
	rc := &receiver{secret: "demo-" + hex.EncodeToString(b[:])}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/hook" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "POST a CloudEvent", http.StatusBadRequest)
		return
	}
	verr := webhook.VerifySignature([]byte(rc.secret), r.Header.Get(webhook.SignatureHeader), r.Header.Get(webhook.TimestampHeader), body, time.Now(), 5*time.Minute)
	var ce struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &ce)
	rc.mu.Lock()
	rc.got = append(rc.got, receivedHook{At: time.Now(), Type: ce.Type, ID: ce.ID, Valid: verr == nil, Signature: r.Header.Get(webhook.SignatureHeader), Body: string(body)})
	if len(rc.got) > 50 {
		rc.got = rc.got[len(rc.got)-50:]
	}
	rc.mu.Unlock()
	if verr != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) list() []receivedHook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]receivedHook, len(rc.got))
	for i, h := range rc.got {
		out[len(rc.got)-1-i] = h
	}
	return out
}
