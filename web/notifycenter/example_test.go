package notifycenter_test

import (
	"context"
	"net/http"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// The web process mounts the center; the worker's notify inbox announces
// through the same Redis.
func ExampleNew() {
	var db *gorm.DB // the app's
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	userKey := func(r *http.Request) (string, bool) { c, err := r.Cookie("user"); return c.String(), err == nil }

	// Web process:
	center, err := notifycenter.New(notifycenter.Config{DB: db, Redis: rdb, Prefix: "/api/notifications", Recipient: userKey})
	if err != nil {
		panic(err)
	}
	defer center.Close()
	mux := http.NewServeMux()
	mux.Handle("/api/notifications/", center)

	// Worker process:
	ann, _ := notifycenter.NewAnnouncer(rdb, "")
	_, _ = notify.New(notify.Config{
		Accepts:   inbox.On("issue", "comment_added"),
		Announcer: ann,
		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
			return []string{"7"}, nil // the subscribers
		},
	})
}
