package workflow

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// value is a typed value: an attribute's value read from an event, or a
// condition's operand. The zero value is absent.
type value struct {
	present bool
	typ     Type
	s       string
	n       float64
	t       time.Time
	b       bool
	list    []value // ListOf
	from    *value  // ChangeOf; absent when the change has no from
	to      *value  // ChangeOf
	// bad describes a value that is present but not of the declared type
	// (a resolver returning 42 for a time): no operator holds for it.
	bad string
}

// convert reads raw as a value of type t. It returns a value with bad set
// when raw is not of that type.
func convert(raw any, t Type) value {
	raw = deref(raw)
	if raw == nil {
		return value{}
	}
	v := value{present: true, typ: t}
	switch {
	case t.IsList():
		elems, ok := asList(raw)
		if !ok {
			v.bad = describe(raw) + ", not " + t.article()
			return v
		}
		v.list = make([]value, len(elems))
		for i, e := range elems {
			ev := convert(e, t.Kind())
			if !ev.present {
				ev.bad = fmt.Sprintf("element %d is null", i)
			}
			if ev.bad != "" {
				v.bad = fmt.Sprintf("element %d: %s", i, ev.bad)
				return v
			}
			v.list[i] = ev
		}
		return v
	case t.IsChange():
		m, ok := raw.(map[string]any)
		if !ok {
			v.bad = describe(raw) + `, not a change {"from": ..., "to": ...}`
			return v
		}
		for _, part := range [...]struct {
			key string
			dst **value
		}{{"from", &v.from}, {"to", &v.to}} {
			pv := convert(m[part.key], t.Kind())
			if pv.bad != "" {
				v.bad = part.key + ": " + pv.bad
				return v
			}
			*part.dst = &pv
		}
		return v
	}
	var ok bool
	switch t {
	case String:
		v.s, ok = asString(raw)
	case Number:
		v.n, ok = asNumber(raw)
	case Time:
		v.t, ok = asTime(raw)
	case Bool:
		v.b, ok = asBool(raw)
	}
	if !ok {
		v.bad = describe(raw) + ", not " + t.article()
	}
	return v
}

// deref unwraps pointers and driver.Valuers (sql.NullTime and friends), so
// resolvers can return gorm model fields as they are.
func deref(raw any) any {
	for range 4 {
		switch x := raw.(type) {
		case nil:
			return nil
		case time.Time, string, bool, float64, int, int64, map[string]any, []any:
			return raw
		case driver.Valuer:
			rv := reflect.ValueOf(x)
			if rv.Kind() == reflect.Pointer && rv.IsNil() {
				return nil
			}
			v, err := x.Value()
			if err != nil {
				return raw
			}
			raw = v
			continue
		}
		rv := reflect.ValueOf(raw)
		if rv.Kind() != reflect.Pointer {
			return raw
		}
		if rv.IsNil() {
			return nil
		}
		raw = rv.Elem().Interface()
	}
	return raw
}

func asString(raw any) (string, bool) {
	if s, ok := raw.(string); ok {
		return s, true
	}
	rv := reflect.ValueOf(raw)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

func asNumber(raw any) (float64, bool) {
	switch x := raw.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	rv := reflect.ValueOf(raw)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func asTime(raw any) (time.Time, bool) {
	switch x := raw.(type) {
	case time.Time:
		return x, true
	case string:
		return parseTime(x)
	}
	return time.Time{}, false
}

// parseTime reads an RFC 3339 time or a date (UTC midnight).
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func asBool(raw any) (bool, bool) {
	if b, ok := raw.(bool); ok {
		return b, true
	}
	rv := reflect.ValueOf(raw)
	if rv.Kind() == reflect.Bool {
		return rv.Bool(), true
	}
	return false, false
}

// asList returns the elements of a slice or array (not of a string or
// []byte).
func asList(raw any) ([]any, bool) {
	switch x := raw.(type) {
	case []any:
		return x, true
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case []byte:
		return nil, false
	}
	rv := reflect.ValueOf(raw)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// jsonKind names what raw is, in the words of JSON: "a string", "a number".
func jsonKind(raw any) string {
	raw = deref(raw)
	if raw == nil {
		return "null"
	}
	if _, ok := raw.(time.Time); ok {
		return "a time"
	}
	if _, ok := raw.(json.Number); ok {
		return "a number"
	}
	switch reflect.ValueOf(raw).Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return fmt.Sprintf("a %T", raw)
}

// describe shows a raw value and what it is: `"banana" (a string)`.
func describe(raw any) string {
	raw = deref(raw)
	var shown string
	switch x := raw.(type) {
	case nil:
		return "null"
	case string:
		shown = quote(x)
	case time.Time:
		shown = formatTime(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			shown = fmt.Sprintf("%v", x)
		} else {
			shown = truncate(string(b), maxShown)
		}
	}
	return shown + " (" + jsonKind(raw) + ")"
}

// maxShown caps how much of a string value explanations and messages show.
const maxShown = 80

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quote quotes a string for messages, truncated.
func quote(s string) string {
	if len(s) > maxShown {
		return strconv.Quote(truncate(s, maxShown)) + fmt.Sprintf(" (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// formatTime shows a time in UTC: a date when it is midnight, RFC 3339
// otherwise.
func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

func formatNumber(n float64) string {
	if math.Abs(n) < 1e15 {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return strconv.FormatFloat(n, 'g', -1, 64)
}

// String shows a value for explanations.
func (v value) String() string {
	if !v.present {
		return "absent"
	}
	if v.bad != "" {
		return v.bad
	}
	switch {
	case v.typ.IsList():
		var b strings.Builder
		b.WriteByte('[')
		for i, e := range v.list {
			if i == 10 {
				fmt.Fprintf(&b, ", … %d more", len(v.list)-i)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.String())
		}
		b.WriteByte(']')
		return b.String()
	case v.typ.IsChange():
		return "from " + v.from.String() + " to " + v.to.String()
	}
	switch v.typ {
	case String:
		return quote(v.s)
	case Number:
		return formatNumber(v.n)
	case Time:
		return formatTime(v.t)
	case Bool:
		return strconv.FormatBool(v.b)
	}
	return "?"
}

// equal reports whether two present, well-typed values of one kind are
// equal (times as instants).
func (v *value) equal(o *value) bool {
	switch v.typ.Kind() {
	case String:
		return v.s == o.s
	case Number:
		return v.n == o.n
	case Time:
		return v.t.Equal(o.t)
	case Bool:
		return v.b == o.b
	}
	return false
}

// compare orders two present, well-typed values of one kind (not bool).
func (v *value) compare(o *value) int {
	switch v.typ.Kind() {
	case String:
		return strings.Compare(v.s, o.s)
	case Number:
		switch {
		case v.n < o.n:
			return -1
		case v.n > o.n:
			return 1
		}
		return 0
	case Time:
		return v.t.Compare(o.t)
	}
	return 0
}
