package twilio_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

const dbName = "tidings_test_twilio"

// testDB is the fuzz test's database (FuzzStatusCallback): numbers a
// delivery report may remove, suppressions it may add.
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
