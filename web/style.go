package web

import (
	_ "embed"
	"net/http"
)

// StylesheetFile is the name each mounted handler serves the default
// stylesheet under, below its prefix ("/settings/notifications/tidings.css").
const StylesheetFile = "tidings.css"

//go:embed static/tidings.css
var stylesheet []byte

// Stylesheet returns the default stylesheet: sensible defaults for the
// pages' buttons, links, tables and forms, all scoped to
// <div class="tidings"> so the app's own pages are untouched. It reads
// the app's colours and font from CSS custom properties when the app sets
// them: --tidings-accent, --tidings-text, --tidings-muted,
// --tidings-border, --tidings-surface, --tidings-danger, --tidings-font.
func Stylesheet() []byte { return append([]byte(nil), stylesheet...) }

// ServeStylesheet is an http.HandlerFunc serving the default stylesheet,
// cacheable for an hour.
func ServeStylesheet(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(stylesheet)
}
