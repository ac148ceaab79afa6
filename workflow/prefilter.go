package workflow

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// pattern is a compiled matches operand with a literal prefilter: a
// substring every match must contain. Most patterns in rules do not match
// most values, and a substring search is some ten times cheaper than
// running the regular expression, so a value without the literal is
// refused without running it.
type pattern struct {
	re   *regexp.Regexp
	lit  string // "" when the pattern requires no usable literal
	fold bool   // lit is matched ASCII case-insensitively
}

func compilePattern(expr string) (*pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	p := &pattern{re: re}
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		p.lit, p.fold = requiredLiteral(tree.Simplify())
		if p.fold && !isASCII(p.lit) || strings.ContainsRune(p.lit, utf8.RuneError) {
			p.lit = "" // only ASCII folding is prefiltered; U+FFFD also matches invalid UTF-8
		}
	}
	return p, nil
}

// requiredLiteral returns the longest literal that every match of re must
// contain, and whether it is case-folded; "" when there is none.
func requiredLiteral(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), re.Flags&syntax.FoldCase != 0
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		best, bestFold := "", false
		for _, sub := range re.Sub {
			if lit, fold := requiredLiteral(sub); len(lit) > len(best) {
				best, bestFold = lit, fold
			}
		}
		return best, bestFold
	}
	return "", false
}

// MatchString reports whether s matches the pattern.
func (p *pattern) MatchString(s string) bool {
	if p.lit != "" {
		if !p.fold {
			if !strings.Contains(s, p.lit) {
				return false
			}
		} else if isASCII(s) && !containsFoldASCII(s, p.lit) {
			// Non-ASCII values go to the regexp: under Unicode folding "k"
			// also matches the Kelvin sign and "s" the long s.
			return false
		}
	}
	return p.re.MatchString(s)
}

func (p *pattern) String() string { return p.re.String() }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether s contains sub, ASCII letters compared
// case-insensitively. Both must be ASCII.
func containsFoldASCII(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	first := lowerASCII(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == lowerASCII(sub[j]) {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
