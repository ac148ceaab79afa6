package addresstest

import (
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"gorm.io/gorm"
)

// CountWrites is a handle on db whose statements that may change rows
// (create, update, delete and raw Exec) are counted in n, for a fuzz test
// to check that a refused request writes nothing. The count is not the
// handle's alone: gorm's callbacks belong to db's configuration, which
// every session of db shares, so nothing else may write through db while
// the count is read.
func CountWrites(tb testing.TB, db *gorm.DB) (handle *gorm.DB, n *atomic.Int64) {
	tb.Helper()
	handle, n = db.Session(&gorm.Session{NewDB: true}), new(atomic.Int64)
	count := func(*gorm.DB) { n.Add(1) }
	cb := handle.Callback()
	for _, c := range []interface {
		Register(string, func(*gorm.DB)) error
	}{cb.Create().Before("gorm:create"), cb.Update().Before("gorm:update"),
		cb.Delete().Before("gorm:delete"), cb.Raw().Before("gorm:raw")} {
		if err := c.Register("addresstest:count_writes", count); err != nil {
			tb.Fatal(err)
		}
	}
	return handle, n
}

// Unstorable reports whether PostgreSQL refuses s as text (a NUL, or
// invalid UTF-8).
func Unstorable(s string) bool { return strings.ContainsRune(s, 0) || !utf8.ValidString(s) }
