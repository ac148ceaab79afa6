package activity

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFlatExtraIsJSONMarshal: appendFlatExtra writes what json.Marshal
// writes, byte for byte, or declines; and it does not decline the usual
// extra (RecordEvent's figures count on it).
func TestFlatExtraIsJSONMarshal(t *testing.T) {
	type named string
	fast := []map[string]any{
		{},
		{"chars": 137, "lang": "en"},
		{"a": nil, "b": true, "c": false, "d": int64(math.MinInt64), "e": int32(-7), "f": uint64(math.MaxUint64), "g": uint(3)},
		{"f0": 0.0, "f1": math.Copysign(0, -1), "f2": 1e21, "f3": 1e20, "f4": 1e-6, "f5": 1e-7, "f6": 5e-324, "f7": math.MaxFloat64, "f8": 0.1, "f9": -123456.789e-12},
		{"z": "", "y": " ~!#$%'()*+,-./:;=?@[]^_`{|}", "x": "plain text"},
		{"": 1, "B": 2, "a": 3, "A b": 4},
	}
	declined := []map[string]any{
		{"html": "<b>"}, {"amp": "&"}, {"q": `"`}, {"bs": `\`}, {"nl": "a\nb"}, {"é": 1}, {"k": "é"}, {"bad": "\xff"},
		{"<": 1}, {"nested": map[string]any{}}, {"list": []int{1}}, {"named": named("x")}, {"f32": float32(1.5)},
		{"nan": math.NaN()}, {"inf": math.Inf(1)}, {"num": json.Number("1")},
	}
	big := map[string]any{}
	for i := range 17 {
		big[fmt.Sprint("k", i)] = i
	}
	declined = append(declined, big)

	check := func(m map[string]any, wantFast bool) {
		t.Helper()
		got, ok := appendFlatExtra(nil, m)
		want, err := json.Marshal(m)
		if ok && (err != nil || string(got) != string(want)) {
			t.Errorf("%#v: wrote %s, json.Marshal %s (%v)", m, got, want, err)
		}
		if ok != wantFast {
			t.Errorf("%#v: fast path %v, want %v", m, ok, wantFast)
		}
	}
	for _, m := range fast {
		check(m, true)
	}
	for _, m := range declined {
		check(m, false)
	}

	// Random maps of random values, floats of every magnitude.
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() any {
		switch r.IntN(9) {
		case 0:
			return nil
		case 1:
			return r.IntN(2) == 0
		case 2:
			return int(r.Int64()) >> r.IntN(64)
		case 3:
			return r.Uint64() >> r.IntN(64)
		case 4:
			return math.Float64frombits(r.Uint64())
		case 5:
			return float64(r.IntN(2000000)-1000000) * math.Pow(10, float64(r.IntN(60)-30))
		case 6:
			return int64(r.Int32())
		default:
			b := make([]byte, r.IntN(12))
			for i := range b {
				b[i] = byte(r.IntN(0x60) + 0x20)
			}
			return string(b)
		}
	}
	for range 20000 {
		m := map[string]any{}
		for range r.IntN(6) {
			m[fmt.Sprint(r.IntN(50))] = pick()
		}
		got, ok := appendFlatExtra(nil, m)
		want, err := json.Marshal(m)
		if ok && (err != nil || string(got) != string(want)) {
			t.Fatalf("%#v: wrote %s, json.Marshal %s (%v)", m, got, want, err)
		}
		if !ok && err == nil && plainValues(m) {
			t.Fatalf("%#v: declined a map of plain values", m)
		}
	}
}

// plainValues reports whether every key and value of m is one
// appendFlatExtra writes.
func plainValues(m map[string]any) bool {
	for k, v := range m {
		if !plainJSONText(k) {
			return false
		}
		if s, ok := v.(string); ok && !plainJSONText(s) {
			return false
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return false
		}
	}
	return len(m) <= 16
}
