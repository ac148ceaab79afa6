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
	var db *gorm.DB
	var err error
	if fuzzWorker() {
		db, err = pgtest.Open(dbName) // the coordinator made it; making it again would cut off the other workers
	} else {
		db, err = pgtest.Create(context.Background(), dbName)
	}
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

// fuzzWorker reports whether this process is a worker `go test -fuzz`
// started.
func fuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}
