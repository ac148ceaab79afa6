package email

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSubjectRunes caps a rendered subject; longer ones end in "…".
const maxSubjectRunes = 200

// oneLine makes s safe for a header value: every control character (CR, LF,
// tab, NUL, ...) becomes a space and runs of spaces collapse, so no value can
// end a header line and start another. Non-ASCII text stays; the writer
// encodes it as RFC 2047 encoded words.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
