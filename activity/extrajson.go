package activity

import (
	"math"
	"slices"
	"strconv"
)

// appendFlatExtra appends m encoded byte for byte as json.Marshal encodes
// it, for the usual extra: a few keys of plain text, with values that are
// plain text, booleans, nil, integers or finite floats. ok is false, and
// the caller marshals m, for anything else (a nested value, a string with
// a character json.Marshal escapes, more than 16 keys). json.Marshal
// costs a map this size about seven allocations (a copy of each key and
// value through reflection, the sorted keys, the result); this, none
// beyond b's growth. TestFlatExtraIsJSONMarshal holds the two equal.
func appendFlatExtra(b []byte, m map[string]any) (_ []byte, ok bool) {
	if len(m) > 16 {
		return b, false
	}
	var ks [16]string
	keys := ks[:0]
	for k := range m {
		if !plainJSONText(k) {
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys) // json.Marshal sorts a map's keys
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		switch v := m[k].(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			if !plainJSONText(v) {
				return b, false
			}
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		case bool:
			b = strconv.AppendBool(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int32:
			b = strconv.AppendInt(b, int64(v), 10)
		case uint:
			b = strconv.AppendUint(b, uint64(v), 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		case float64:
			var ok bool
			if b, ok = appendJSONFloat(b, v); !ok {
				return b, false
			}
		default:
			return b, false
		}
	}
	return append(b, '}'), true
}

// plainJSONText reports whether json.Marshal writes s as it is between
// quotes: printable ASCII without '"', '\\' and the HTML characters it
// escapes (<, >, &).
func plainJSONText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendJSONFloat writes f as encoding/json writes a float64 (its
// floatEncoder: ES6 number formatting); false for NaN and the infinities,
// which json.Marshal refuses.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
