package activity

import (
	"bytes"
	"fmt"
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

// jsonProblem says why encoded JSON cannot be stored as jsonb, or could not
// be read back by encoding/json, or returns "". b is valid JSON (json.Valid
// or json.Marshal said so); one pass over it looks at what PostgreSQL's
// jsonb input refuses with a SQLSTATE that would abort the caller's
// transaction, and at what it would store altered:
//   - \u0000 anywhere (string or key): jsonb refuses it (22P05);
//   - a UTF-16 surrogate escape that is not a high one (\ud800-\udbff)
//     followed at once by a low one (\udc00-\udfff): jsonb refuses it
//     (22P02), where encoding/json would decode U+FFFD;
//   - a number outside PostgreSQL's numeric range (22003): more than
//     131072 digits before the decimal point once its exponent is applied,
//     more than 16383 after it (a scale counted as written: 0e-16384 is out
//     too), or an exponent of 2^30-1 (1073741823) or more either way,
//     even on a zero;
//   - objects and arrays nested deeper than MaxExtraDepth: jsonb stores
//     them, but encoding/json refuses past 10000 levels, so such an event
//     could never be marshalled or decoded again (inbox jobs and webhooks
//     carry it inside further levels);
//   - invalid UTF-8 bytes (a json.RawMessage can carry them);
//   - when marshalled is true, \ufffd: encoding/json writes that escape,
//     and only that, for each invalid UTF-8 byte of a Go string (a valid
//     U+FFFD it writes as its UTF-8 bytes), so its presence means the
//     value held invalid UTF-8, which would be stored silently replaced.
//
// grow is how many bytes longer than b PostgreSQL gives the JSON back:
// jsonb keeps numbers as numeric and writes them out in full (1e6 as
// 1000000), so a few bytes of exponent can come back as 131072 digits.
// The caller counts them against the size limit.
func jsonProblem(b []byte, marshalled bool) (problem string, grow int) {
	if !utf8.Valid(b) {
		return "is not valid UTF-8", 0
	}
	depth := 0
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			end, p := jsonStringProblem(b, i+1, marshalled)
			if p != "" {
				return p, 0
			}
			i = end
		case c == '{' || c == '[':
			if depth++; depth > MaxExtraDepth {
				return fmt.Sprintf("nests objects and arrays more than %d deep (MaxExtraDepth)", MaxExtraDepth), 0
			}
			i++
		case c == '}' || c == ']':
			depth--
			i++
		case c == '-' || c >= '0' && c <= '9':
			end, written, ok := jsonNumber(b, i)
			if !ok {
				return fmt.Sprintf("has a number PostgreSQL cannot store (%.40s): numeric holds at most 131072 digits before the decimal point and 16383 after it", string(b[i:end])), 0
			}
			if written > end-i {
				grow += written - (end - i)
			}
			i = end
		default:
			i++
		}
	}
	return "", grow
}

// jsonStringProblem checks the JSON string whose contents start at b[i]
// (after its opening quote) and returns the index after its closing quote.
func jsonStringProblem(b []byte, i int, marshalled bool) (end int, problem string) {
	q := i + bytes.IndexByte(b[i:], '"') // b is valid JSON: the string ends
	for {
		k := bytes.IndexByte(b[i:q], '\\')
		if k < 0 {
			return q + 1, ""
		}
		i += k
		if b[i+1] != 'u' {
			i += 2 // an escaped character: \\ \" \n ...
		} else {
			switch r := hex4(b[i+2:]); {
			case r == 0:
				return 0, `contains a NUL character (\u0000) in a string or key, which PostgreSQL jsonb cannot hold`
			case r == 0xfffd && marshalled:
				return 0, "contains a string or key that is not valid UTF-8 (encoding/json would store it with U+FFFD replacement characters)"
			case r >= 0xd800 && r <= 0xdbff:
				if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' || !isLowSurrogate(hex4(b[i+8:])) {
					return 0, fmt.Sprintf(`contains an unpaired UTF-16 surrogate escape (\u%s not followed by a low surrogate \udc00-\udfff), which PostgreSQL jsonb refuses`, string(b[i+2:i+6]))
				}
				i += 12
			case isLowSurrogate(r):
				return 0, fmt.Sprintf(`contains an unpaired UTF-16 surrogate escape (\u%s without a high surrogate \ud800-\udbff before it), which PostgreSQL jsonb refuses`, string(b[i+2:i+6]))
			default:
				i += 6
			}
		}
		if i > q { // the quote found was escaped: find the string's end
			q = i + bytes.IndexByte(b[i:], '"')
		}
	}
}

func isLowSurrogate(r int) bool { return r >= 0xdc00 && r <= 0xdfff }

// hex4 decodes the four hex digits at the start of b (valid JSON has them
// after \u).
func hex4(b []byte) int {
	r := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | int(c)
	}
	return r
}

// PostgreSQL's numeric limits, as its input function applies them to a
// jsonb number (numeric.c: set_var_from_str, make_result).
const (
	numericMaxIntDigits = 131072      // before the decimal point
	numericMaxScale     = 16383       // after it, as written
	numericMaxExponent  = 1<<31/2 - 1 // INT_MAX/2: a larger exponent is refused outright
)

// jsonNumber reads the JSON number at b[i] and returns the index after it,
// the length of the text PostgreSQL writes it back as, and whether
// numeric can hold it.
func jsonNumber(b []byte, i int) (end, written int, ok bool) {
	neg := b[i] == '-'
	if neg {
		i++
	}
	intDigits, fracDigits, leadingZeros, nonzero := 0, 0, 0, false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		intDigits++
		if b[i] != '0' {
			nonzero = true
		} else if !nonzero {
			leadingZeros++
		}
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			fracDigits++
			if b[i] != '0' {
				nonzero = true
			} else if !nonzero {
				leadingZeros++
			}
		}
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		expNeg := i < len(b) && b[i] == '-'
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if exp <= numericMaxExponent {
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	end = i
	if exp >= numericMaxExponent || exp <= -numericMaxExponent {
		return end, 0, false
	}
	scale := max(fracDigits-exp, 0)
	if scale > numericMaxScale {
		return end, 0, false
	}
	written = 1 // the integer part: "0" when the value is below 1
	if nonzero {
		// the decimal position of the first nonzero digit: 0 for units
		if p := intDigits - 1 + exp - leadingZeros; p >= numericMaxIntDigits {
			return end, 0, false
		} else if p > 0 {
			written = p + 1
		}
		if neg {
			written++
		}
	}
	if scale > 0 {
		written += 1 + scale
	}
	return end, written, true
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
