package tidings_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web"
)

// A configuration that stores secrets sealed needs a secret from
// configuration, the same in every process.
func ExampleNewClient() {
	_, err := tidings.NewClient(tidings.Config{DB: db, Redis: "127.0.0.1:6379", Domains: []*activity.Domain{orders}, Webhooks: "/shop"})
	fmt.Println(errors.Is(err, tidings.ErrInvalidConfig))
	var ce *tidings.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(ce.Field)
	}
	// Output:
	// true
	// Secret
}

// Migrate creates what the domain needs, once: a second call, or another
// process starting at the same time, finds nothing to do.
func ExampleMigrate() {
	ctx := context.Background()
	invoices := activity.MustDomain(activity.DomainConfig{Name: "invoice", Subject: activity.Subject{Table: "orders"}, Actions: []string{"sent"}})
	for range 2 {
		if err := tidings.Migrate(ctx, db, invoices); err != nil {
			panic(err)
		}
	}
	var order int64
	db.Raw(`INSERT INTO orders (shop_id, owner_id) VALUES (1, 1) RETURNING id`).Scan(&order)
	res, err := invoices.RecordEvent(ctx, db, order, "sent", activity.Actor(activity.System("billing")))
	fmt.Println(res.Event.Action, res.Event.ActorID, err)
	// Output: sent billing <nil>
}

// One handler under one prefix: who asks comes from the app's own
// session, once per request; the event browser admits administrators only.
func ExampleClient_Handler() {
	audit := inbox.Func("audit", nil, func(context.Context, *inbox.Delivery) error { return nil })
	client, err := tidings.NewClient(tidings.Config{DB: db, Redis: "127.0.0.1:6379", Domains: []*activity.Domain{orders},
		Inboxes: []inbox.Inbox{audit},
		Identity: func(r *http.Request) (web.Identity, error) {
			return web.Identity{Person: activity.Ref{Type: "users", ID: "7"}, Tenant: int64(1), Admin: r.Header.Get("X-Admin") == "yes"}, nil
		}})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	mux := http.NewServeMux()
	mux.Handle("/tidings/", client.Handler())
	for _, admin := range []string{"no", "yes"} {
		req := httptest.NewRequest("GET", "/tidings/events/", nil)
		req.Header.Set("X-Admin", admin)
		rec := httptest.NewRecorder()
		client.Middleware(mux).ServeHTTP(rec, req)
		fmt.Println("admin", admin, rec.Code)
	}
	// Output:
	// admin no 403
	// admin yes 200
}
