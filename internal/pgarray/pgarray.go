// Package pgarray passes Go slices as single PostgreSQL array parameters.
// gorm expands a plain slice argument into a list ($1, $2, ...); these
// types are driver.Valuers, which it passes as one value. Use them with an
// explicit cast: WHERE id = ANY(?::bigint[]), unnest(?::text[]).
package pgarray

import (
	"database/sql/driver"
	"strconv"
	"strings"
)

type (
	// Text is a text[] parameter.
	Text []string
	// Int8 is a bigint[] parameter.
	Int8 []int64
	// Bool is a boolean[] parameter.
	Bool []bool
)

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// Value renders the array literal, every element quoted and escaped.
func (a Text) Value() (driver.Value, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(escaper.Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

// Value renders the array literal.
func (a Int8) Value() (driver.Value, error) {
	b := make([]byte, 0, 2+len(a)*8)
	b = append(b, '{')
	for i, n := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(append(b, '}')), nil
}

// Value renders the array literal.
func (a Bool) Value() (driver.Value, error) {
	b := make([]byte, 0, 2+len(a)*2)
	b = append(b, '{')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		if v {
			b = append(b, 't')
		} else {
			b = append(b, 'f')
		}
	}
	return string(append(b, '}')), nil
}
