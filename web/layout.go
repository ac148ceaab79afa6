package web

import (
	"bytes"
	"html/template"
	"net/http"
)

// Page is a mounted page's content, handed to the app's Layout to wrap.
type Page struct {
	// Title is the page's title ("Notification settings"), plain text.
	Title string
	// Head goes inside <head>: the stylesheet links (Theme.Head).
	Head template.HTML
	// Body is the page's content, already wrapped in <div class="tidings">
	// by Theme.Render: put it where the app's content goes.
	Body template.HTML
	// Status is the response's status code. 0: 200.
	Status int
}

// Layout wraps a mounted page in the app's own layout: write a whole HTML
// document with p.Head in its head and p.Body where the content goes. The
// status code and Content-Type are set before it runs (calling
// WriteHeader is not needed and cannot change the status).
type Layout func(w http.ResponseWriter, r *http.Request, p Page)

// TemplateLayout is a Layout executing the template name of t with the
// Page as its data ({{.Title}}, {{.Head}}, {{.Body}}): the app's layout
// template, reused as it is.
func TemplateLayout(t *template.Template, name string) Layout {
	return func(w http.ResponseWriter, r *http.Request, p Page) {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, p); err != nil {
			http.Error(w, "the page could not be shown just now; try again", http.StatusInternalServerError)
			return
		}
		w.Write(buf.Bytes())
	}
}

var defaultLayout = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
{{.Head}}
</head>
<body class="tidings-page">
{{.Body}}
</body>
</html>
`))

// DefaultLayout is the Layout of an app that gives none: a bare HTML
// document around the page, styled by the stylesheet alone.
func DefaultLayout(w http.ResponseWriter, r *http.Request, p Page) {
	TemplateLayout(defaultLayout, "layout")(w, r, p)
}

// Theme is how mounted pages take the app's look: the app's layout around
// them and the stylesheets they link. The zero Theme is the default
// layout and the default stylesheet.
type Theme struct {
	// Layout wraps each page. Default DefaultLayout.
	Layout Layout
	// Stylesheet is the URL of the app's own stylesheet, linked after the
	// default one so its rules win ("/static/app.css"). Default none.
	Stylesheet string
	// NoDefaultStyle leaves the default stylesheet out: the app's styles
	// the pages' classes itself. Default false.
	NoDefaultStyle bool
}

// Head returns the stylesheet links of a page whose handler serves the
// default stylesheet under base (the mount prefix: base + "/" +
// StylesheetFile, see ServeStylesheet).
func (t Theme) Head(base string) template.HTML {
	var buf bytes.Buffer
	if !t.NoDefaultStyle {
		buf.WriteString(`<link rel="stylesheet" href="`)
		template.HTMLEscape(&buf, []byte(base+"/"+StylesheetFile))
		buf.WriteString(`">` + "\n")
	}
	if t.Stylesheet != "" {
		buf.WriteString(`<link rel="stylesheet" href="`)
		template.HTMLEscape(&buf, []byte(t.Stylesheet))
		buf.WriteString(`">` + "\n")
	}
	return template.HTML(buf.String())
}

// Render writes p through the theme's layout: the body wrapped in
// <div class="tidings"> (the default stylesheet's scope), the status code
// and an HTML Content-Type set first.
func (t Theme) Render(w http.ResponseWriter, r *http.Request, p Page) {
	layout := t.Layout
	if layout == nil {
		layout = DefaultLayout
	}
	status := p.Status
	if status == 0 {
		status = http.StatusOK
	}
	p.Status = status
	p.Body = `<div class="tidings">` + "\n" + p.Body + "\n</div>"
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	layout(&statusWriter{ResponseWriter: w, status: status}, r, p)
}

// statusWriter writes the page's status whatever the layout asks for.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	if code >= 400 && s.status < 400 { // the layout failed: let it say so
		s.ResponseWriter.WriteHeader(code)
		return
	}
	s.ResponseWriter.WriteHeader(s.status)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(s.status)
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
