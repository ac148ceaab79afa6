package privacy_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// The app these tests play: an issue tracker with users; issue events may
// name a person in extra (personal paths), and the user domain records
// events about a user as its subject.
const dbName = "tidings_test_privacy"

const appSchema = `
CREATE TABLE users (
    id    bigserial PRIMARY KEY,
    name  text      NOT NULL,
    email text
);
CREATE TABLE issues (
    id    bigserial PRIMARY KEY,
    title text      NOT NULL
);
`

var (
	testDB *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{
		Name:          "issue",
		Actions:       []string{"comment_added", "assigned", "invited", "comment_retracted", "flagged"},
		PersonalPaths: []string{"email", "author.name"},
	})
	users = activity.MustDomain(activity.DomainConfig{
		Name:          "user",
		Actions:       []string{"profile_viewed", "signed_in"},
		PersonalPaths: []string{"viewer_email"},
	})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	upIssues, _ := activity.MigrationSQL(issues)
	upUsers, _ := activity.MigrationSQL(users)
	db, err := pgtest.Create(ctx, dbName, appSchema, upIssues, upUsers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "privacy tests need PostgreSQL:", err)
		os.Exit(1)
	}
	testDB = db
	code := m.Run()
	if sqlDB, err := testDB.DB(); err == nil {
		_ = sqlDB.Close()
	}
	os.Exit(code)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
