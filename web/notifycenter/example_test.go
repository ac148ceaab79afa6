package notifycenter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	tidingsweb "github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// The web process mounts the center; the worker's notify inbox announces
// through the same Redis. A person with no notifications yet asks for
// their counts.
func ExampleNew() {
	// db is the app's (here the tests'); the Redis client is only dialled
	// by live streams and announcements.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	identify := func(*http.Request) (tidingsweb.Identity, error) { // the app's session lookup
		return tidingsweb.Identity{Person: activity.Ref{Type: "users", ID: "example-center-7"}}, nil
	}

	// Web process:
	center, err := notifycenter.New(notifycenter.Config{DB: db, Redis: rdb, Prefix: "/api/notifications"})
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
			return []string{"7"}, nil // the issue's subscribers
		},
	})

	rec := httptest.NewRecorder()
	tidingsweb.Middleware(identify, nil)(mux).ServeHTTP(rec, httptest.NewRequest("GET", "/api/notifications/counts", nil))
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output: 200 {"unread":0,"unseen":0,"head":0}
}
