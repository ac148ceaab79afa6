package notify

import (
	"database/sql/driver"
	"strings"
)

// textArray passes a []string as one PostgreSQL text[] parameter (gorm
// would expand a slice into a list). Use it with a cast: unnest(?::text[]).
type textArray []string

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
