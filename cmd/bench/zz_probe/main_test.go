package feedprobe

import (
	"context"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/activity"
)

type User struct {
	ID   int64
	Name string
}
type Comment struct {
	ID      int64
	IssueID int64
	Body    string
}

func TestProbe(t *testing.T) {
	db, err := gorm.Open(postgres.Open("host=127.0.0.1 user=postgres sslmode=disable dbname=tidings_bench"), &gorm.Config{Logger: logger.Default.LogMode(logger.Info)})
	if err != nil {
		t.Fatal(err)
	}
	d := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"},
		Resolvers: map[string]activity.Resolver{"users": activity.ModelResolver[User](), "comments": activity.ModelResolver[Comment]()}})
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		t0 := time.Now()
		if i == 39 {
			db.Logger = logger.Default.LogMode(logger.Info)
		} else {
			db.Logger = logger.Default.LogMode(logger.Silent)
		}
		if _, err := d.Feed(ctx, db, activity.FeedQuery{Subject: int64(1), Limit: 20}); err != nil {
			t.Fatal(err)
		}
		t.Log(time.Since(t0))
	}
}
