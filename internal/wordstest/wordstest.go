// Package wordstest checks that a mounted page speaks the reader's
// language: it gives a page a second locale whose every message is a
// marker (⟦key⟧ and the message's arguments), renders it, and lists the
// texts of the HTML that are neither a marker nor the test's own data.
// A text the page writes as an English literal, bypassing web.Words,
// shows up in that list.
package wordstest

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/web"
)

// Locale is the marker locale's name.
const Locale = "de"

var verb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

// Catalog returns a catalog with the fallback "en" and Locale, where
// every key of the messages, and of web.TimeMessages (relative times
// and stamps), reads ⟦key⟧ followed by the English message's arguments
// (its verbs, in order).
func Catalog(t testing.TB, messages ...map[string]string) *locale.Catalog {
	t.Helper()
	cat, err := locale.New("en", Locale)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(messages, web.TimeMessages()) {
		for k, f := range m {
			if err := cat.Set(Locale, k, Marker(k, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return cat
}

// Marker is the marker message of key whose English message is format.
func Marker(key, format string) string {
	s := "⟦" + key + "⟧"
	for _, v := range verb.FindAllString(format, -1) {
		if v != "%%" {
			s += " " + v
		}
	}
	return s
}

var (
	tag      = regexp.MustCompile(`(?s)<!--.*?-->|<(script|style)\b.*?</(script|style)>|<[^>]*>`)
	attr     = regexp.MustCompile(`\s(?:title|placeholder|aria-label|alt)="([^"]*)"`)
	marked   = regexp.MustCompile(`⟦[^⟧]*⟧`)
	hasWord  = regexp.MustCompile(`\pL`)
	duration = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?(s|ms|µs)\b`)
)

// Texts returns the HTML's text nodes and the texts of its title,
// placeholder, aria-label and alt attributes, unescaped and trimmed,
// those without a letter left out.
func Texts(body string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(html.UnescapeString(s))
		if hasWord.MatchString(s) {
			out = append(out, s)
		}
	}
	for _, m := range attr.FindAllStringSubmatch(body, -1) {
		add(m[1])
	}
	for _, s := range tag.Split(body, -1) {
		add(s)
	}
	return out
}

// Untranslated returns the texts of body (Texts) that still hold a letter
// once the markers, the data strings (the test's fixtures: names, codes,
// the app's labels, longest first) and durations ("1m30s") are taken
// out: what the page wrote in English without asking web.Words.
func Untranslated(body string, data ...string) []string {
	data = slices.Clone(data)
	slices.SortFunc(data, func(a, b string) int { return len(b) - len(a) })
	var out []string
	for _, s := range Texts(body) {
		rest := marked.ReplaceAllString(s, " ")
		for _, d := range data {
			if d != "" {
				rest = strings.ReplaceAll(rest, d, " ")
			}
		}
		rest = duration.ReplaceAllString(rest, " ")
		if hasWord.MatchString(rest) {
			out = append(out, s)
		}
	}
	return out
}
