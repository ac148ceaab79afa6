package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxFormBytes caps a form's body: well above the longest comment (10,000
// characters of up to 4 bytes), far below what would fill memory.
const maxFormBytes = 256 << 10

// errFormTooLarge is a form over maxFormBytes.
var errFormTooLarge = errors.New("form too large")

// parseForm reads a POSTed form of at most maxFormBytes; a larger one is
// errFormTooLarge, which pages show at the field (not "write something").
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errFormTooLarge
		}
		return err
	}
	return nil
}

// textProblem says what is wrong with a text field a person typed, or "":
// PostgreSQL's text holds neither NUL bytes nor invalid UTF-8, and they
// are never what someone meant.
func textProblem(what, s string) string {
	switch {
	case !utf8.ValidString(s):
		return fmt.Sprintf("The %s holds bytes that are not text (invalid UTF-8); paste it again as plain text.", what)
	case strings.ContainsRune(s, 0):
		return fmt.Sprintf("The %s holds a NUL character; remove it.", what)
	}
	return ""
}
