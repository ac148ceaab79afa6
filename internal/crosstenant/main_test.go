package crosstenant_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

const redisDB = 15

var (
	testDB   *gorm.DB
	redisOpt asynq.RedisClientOpt

	// tickets is the tenanted domain: organisations 1 (A) and 2 (B) both
	// have issues 1 and 2 (the subject table is shared, so the ids are
	// the same), and the same people (users:7 and users:8) act in both.
	tickets = activity.MustDomain(activity.DomainConfig{
		Name:    "ticket",
		Subject: activity.Subject{Table: "issues"},
		Tenant:  activity.KeyBigint,
		Actions: []string{"opened", "commented", "commented_retracted"},
	})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(tickets)
	db, err := pgtest.Create(ctx, "tidings_test_crosstenant",
		`CREATE TABLE issues (id bigserial PRIMARY KEY); INSERT INTO issues DEFAULT VALUES; INSERT INTO issues DEFAULT VALUES`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cross-tenant tests need PostgreSQL:", err)
		os.Exit(1)
	}
	testDB = db
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "cross-tenant tests need Redis:", err)
		os.Exit(1)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	os.Exit(m.Run())
}
