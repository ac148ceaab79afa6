package activity

import (
	"bytes"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// textProblem says why s cannot be stored in a PostgreSQL text column, or
// returns "": PostgreSQL refuses invalid UTF-8 (22021) and NUL bytes
// (22P05 / 22021), and the refusal would abort the caller's transaction,
// so both are caught here, before any statement runs.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte, which PostgreSQL text cannot hold"
	}
	return ""
}

// jsonProblem says why encoded JSON cannot be stored as jsonb, or returns
// "". It looks at escapes only (a raw control byte is not valid JSON):
//   - \u0000 anywhere (string or key): jsonb refuses it (22P05);
//   - invalid UTF-8 bytes (a json.RawMessage can carry them);
//   - when marshalled is true, \ufffd: encoding/json writes that escape,
//     and only that, for each invalid UTF-8 byte of a Go string (a valid
//     U+FFFD it writes as its UTF-8 bytes), so its presence means the
//     value held invalid UTF-8, which would be stored silently replaced.
func jsonProblem(b []byte, marshalled bool) string {
	if !utf8.Valid(b) {
		return "is not valid UTF-8"
	}
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i+1 < len(b); {
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch hex := strings.ToLower(string(b[i+2 : i+6])); {
			case hex == "0000":
				return `contains a NUL character (\u0000) in a string or key, which PostgreSQL jsonb cannot hold`
			case hex == "fffd" && marshalled:
				return "contains a string or key that is not valid UTF-8 (encoding/json would store it with U+FFFD replacement characters)"
			}
			i += 6
		} else {
			i += 2 // an escaped character: \\ \" \n ...
		}
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			break
		}
		i += j
	}
	return ""
}

// refTypeRE is what an actor or record type may be: an identifier, like a
// table name ("users", "comments", "system"), optionally schema-qualified.
var refTypeRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// The range of times RecordEvent stores: years 1 to 9999 (PostgreSQL's own
// range is wider; nothing outside this one is a plausible event time).
var (
	minOccurredAt = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxOccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)
