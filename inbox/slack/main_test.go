package slack_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

// testDB is the package's own database, tidings_test_slack, created afresh
// with the library's migrations applied (slack_threads is in
// migrations/00004_channels.sql).
var testDB *gorm.DB

func TestMain(m *testing.M) {
	var err error
	testDB, err = pgtest.Create(context.Background(), "tidings_test_slack")
	if err != nil {
		fmt.Fprintln(os.Stderr, "slack tests need PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	if sqlDB, err := testDB.DB(); err == nil {
		_ = sqlDB.Close()
	}
	os.Exit(code)
}
