package workflow

import (
	"database/sql/driver"
	"strconv"
	"strings"
)

// textArray, int8Array and boolArray pass a Go slice as one PostgreSQL
// array parameter (gorm would otherwise expand a slice into a list). Use
// them with an explicit cast: unnest(?::text[]).
type (
	textArray []string
	int8Array []int64
	boolArray []bool
)

var arrayEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func (a textArray) Value() (driver.Value, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(arrayEscaper.Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

func (a int8Array) Value() (driver.Value, error) {
	b := make([]byte, 0, 2+len(a)*8)
	b = append(b, '{')
	for i, n := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, '}')
	return string(b), nil
}

func (a boolArray) Value() (driver.Value, error) {
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
	b = append(b, '}')
	return string(b), nil
}
