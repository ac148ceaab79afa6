package vonage_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

const dbName = "tidings_test_vonage"

// testDB is the database of the receipt tests and FuzzStatusCallback:
// numbers a receipt may remove, suppressions it may add.
var testDB *gorm.DB

func TestMain(m *testing.M) {
	flag.Parse()
	db, err := pgtest.CreateForFuzz(context.Background(), dbName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDB = db
	code := m.Run()
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	os.Exit(code)
}
