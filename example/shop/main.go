// Command shop is the README's multi-tenant app (ROLE=web or worker runs one side).
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/feedview"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

var Orders = activity.MustDomain(activity.DomainConfig{Name: "order", Tenant: activity.KeyBigint, Actions: []string{"placed", "shipped", "viewed"}})

type User struct {
	ID, ShopID int64
	Name       string
	Admin      bool
}
type Order struct{ ID, ShopID, OwnerID int64 }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	db, err := gorm.Open(postgres.Open(os.Getenv("DATABASE_URL")))
	check(err)
	check(db.AutoMigrate(&User{}, &Order{}))
	check(tidings.Migrate(context.Background(), db, Orders)) // the library's tables and order_events
	client, err := tidings.NewClient(tidings.Config{DB: db, Redis: os.Getenv("REDIS_URL"), Domains: []*activity.Domain{Orders},
		InApp:     &tidings.InApp{Recipients: "SELECT owner_id FROM orders WHERE id = ?"}, // the order's owner
		Retention: &tidings.Retention{ReadNotifications: 90 * 24 * time.Hour, Deliveries: 180 * 24 * time.Hour},
		Identity: func(r *http.Request) (web.Identity, error) { // the shop's own sign-in: a cookie naming the user
			var u User
			if c, err := r.Cookie("user"); err != nil || db.Limit(1).Find(&u, "id = ?", c.Value).Error != nil || u.ID == 0 {
				return web.Identity{}, nil // nobody: the mounted pages refuse
			}
			return web.Identity{Person: activity.Ref{Type: "users", ID: fmt.Sprint(u.ID)}, Label: u.Name, Tenant: u.ShopID, Admin: u.Admin}, nil
		}, Role: tidings.Role(os.Getenv("ROLE"))})
	check(err)
	mux := http.NewServeMux()
	mux.Handle("/tidings/", client.Handler()) // notifications, preferences, events and operations (admins), me/data
	order := func(r *http.Request, tx *gorm.DB) (o Order, err error) {
		shop, _ := activity.TenantFrom(r.Context()) // the signed-in user's shop
		return o, tx.First(&o, "id = ? AND shop_id = ?", r.PathValue("id"), shop).Error
	}
	mux.HandleFunc("POST /orders/{id}/ship", func(w http.ResponseWriter, r *http.Request) {
		if err := db.Transaction(func(tx *gorm.DB) error { // the change and its event commit together, or neither
			o, err := order(r, tx)
			if err == nil {
				_, err = Orders.RecordEvent(r.Context(), tx, o.ID, "shipped") // by the signed-in user, in their shop
			}
			return err
		}); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
		}
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if o, err := order(r, db); err != nil {
			http.NotFound(w, r)
		} else { // a view, at most one per person per 15 minutes, then the order's feed
			Orders.RecordEvent(r.Context(), db, o.ID, "viewed", activity.ThrottleWithin(15*time.Minute))
			page, _ := Orders.Feed(r.Context(), db, activity.FeedQuery{Subject: o.ID, Limit: 20})
			for _, l := range feedview.New(feedview.Config{}).Lines(page.Entries, nil) {
				fmt.Fprintf(w, "%s %s · %s\n", l.ActorName, l.Verb, feedview.Ago(time.Now(), l.OccurredAt))
			}
		}
	})
	check(client.Serve(context.Background(), os.Getenv("ADDR"), mux)) // web and worker until SIGTERM, then a graceful stop
}
