package workflow

import (
	"regexp"
	"testing"
)

func TestRequiredLiteral(t *testing.T) {
	for expr, want := range map[string]struct {
		lit  string
		fold bool
	}{
		`stale`:              {"stale", false},
		`(?i)\bword7\b`:      {"WORD7", true}, // folded literals are kept upper-case
		`^issue #\d+ closed`: {"issue #", false},
		`a+bcd`:              {"bcd", false},
		`(abc)+x`:            {"abc", false},
		`(abc){2,3}`:         {"abc", false},
		`abc|abd`:            {"ab", false}, // simplified to ab[cd]
		`abc|xyz`:            {"", false},
		`(abc)?d`:            {"d", false},
		`x*`:                 {"", false},
		`(?i)straße`:         {"", false}, // folding beyond ASCII: no prefilter
		`\x{FFFD}`:           {"", false}, // U+FFFD also matches invalid UTF-8
	} {
		p, err := compilePattern(expr)
		if err != nil {
			t.Fatal(err)
		}
		if p.lit != want.lit || (p.lit != "" && p.fold != want.fold) {
			t.Errorf("%s: literal %q fold %v; want %q %v", expr, p.lit, p.fold, want.lit, want.fold)
		}
	}
}

// The prefilter never refuses a value the regular expression matches.
func FuzzPatternPrefilter(f *testing.F) {
	seeds := []struct{ expr, s string }{
		{`(?i)\bword7\b`, "This is WORD7 here"},
		{`(?i)\bword7\b`, "word70"},
		{`(?i)kelvin`, "\u212Aelvin"}, // the Kelvin sign folds to k
		{`(?i)ask`, "a\u017Fk"},       // the long s folds to s
		{`\x{FFFD}x`, "\xffx"},        // invalid UTF-8 matches U+FFFD
		{`(?i)é+t`, "ÉÉT"},
		{`stale|old`, "an old issue"},
		{`^(ab){2}c`, "ababc"},
		{`a.b`, "a\nb"},
		{`(?s)a.b`, "a\nb"},
		{`x{0}y`, "y"},
		{`[a-c]bc`, "cbc"},
	}
	for _, s := range seeds {
		f.Add(s.expr, s.s)
	}
	f.Fuzz(func(t *testing.T, expr, s string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		p, err := compilePattern(expr)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v, regexp.Compile: ok", expr, err)
		}
		if got, want := p.MatchString(s), re.MatchString(s); got != want {
			t.Errorf("pattern %q on %q: prefiltered %v, regexp %v (literal %q fold %v)", expr, s, got, want, p.lit, p.fold)
		}
	})
}
