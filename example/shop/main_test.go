package main_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/apptest"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The README's multi-tenant app, built and run as an OS process (one with
// both sides, then a web and a worker process): a shop's admin ships
// Ana's order, the worker notifies Ana on her open stream, her order's
// feed shows it, another shop sees nothing of it, the admin pages admit
// only the shop's admin, Ana exports her data, and SIGTERM stops the app
// cleanly.
func TestShop(t *testing.T) {
	bin := apptest.Build(t, "github.com/tidingsdev/tidings/example/shop")
	for name, roles := range map[string][]string{"one process": {""}, "web and worker": {"web", "worker"}} {
		t.Run(name, func(t *testing.T) { runShop(t, bin, roles) })
	}
}

func runShop(t *testing.T, bin string, roles []string) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_shop")
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	r := redistest.NewPrivate(t)
	addr := apptest.FreeAddr(t)
	var procs []*apptest.Process
	for _, role := range roles {
		p := apptest.Start(t, bin, "DATABASE_URL="+pgtest.DSN("tidings_test_shop"), "REDIS_URL="+r.Addr(), "ADDR="+addr, "ROLE="+role)
		if role == "worker" {
			p.Wait("tidings: worker running")
		} else {
			p.Wait("tidings: serving")
		}
		procs = append(procs, p)
	}
	seed := []string{
		`INSERT INTO users (id, shop_id, name, admin) VALUES (1, 1, 'Ana', false), (2, 1, 'Bob', true), (3, 2, 'Eve', true)`,
		`INSERT INTO orders (id, shop_id, owner_id) VALUES (10, 1, 1)`,
	}
	for _, s := range seed {
		if err := db.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	ana, bob, eve := apptest.Cookie(&http.Cookie{Name: "user", Value: "1"}), apptest.Cookie(&http.Cookie{Name: "user", Value: "2"}), apptest.Cookie(&http.Cookie{Name: "user", Value: "3"})
	base := "http://" + addr
	stream := apptest.Stream(t, base+"/tidings/notifications/stream", ana)
	apptest.Next(t, stream, "counts")
	if code, body := apptest.Do(t, "POST", base+"/orders/10/ship", eve); code != http.StatusNotFound {
		t.Errorf("another shop shipped the order: %d %s", code, body)
	}
	if code, body := apptest.Do(t, "POST", base+"/orders/10/ship", bob); code != http.StatusOK {
		t.Fatalf("ship: %d %s", code, body)
	}
	apptest.Next(t, stream, "notification") // from the worker, through Redis
	for range 2 {
		if code, body := apptest.Do(t, "GET", base+"/orders/10", ana); code != 200 || !strings.Contains(body, "Bob shipped") {
			t.Errorf("Ana's order page: %d %q", code, body)
		}
	}
	var views int64
	db.Raw(`SELECT count(*) FROM order_events WHERE subject_id = 10 AND action = 'viewed'`).Scan(&views)
	if views != 1 {
		t.Errorf("%d view events for two views within 15 minutes, want 1 (throttled)", views)
	}
	for i, c := range []struct {
		path   string
		who    apptest.As
		status int
		has    string
	}{
		{"/tidings/notifications/", ana, 200, `"action":"shipped"`},
		{"/tidings/notifications/", bob, 200, `"notifications":[]`},
		{"/tidings/preferences/", ana, 200, ""},
		{"/tidings/events/", bob, 200, "Bob"},
		{"/tidings/events/", ana, 403, ""},
		{"/tidings/events/", eve, 200, ""},
		{"/tidings/operations/", bob, 200, ""},
		{"/tidings/operations/", ana, 403, ""},
		{"/tidings/me/data", ana, 200, `"shipped"`},
		{"/tidings/me/data", nil, 403, ""},
		{"/orders/10", eve, 404, ""},
	} {
		var who []apptest.As
		if c.who != nil {
			who = append(who, c.who)
		}
		code, body := apptest.Do(t, "GET", base+c.path, who...)
		if code != c.status || !strings.Contains(body, c.has) {
			t.Errorf("GET %s (case %d): %d, want %d with %q:\n%.600s", c.path, i, code, c.status, c.has, body)
		}
	}
	if code, body := apptest.Do(t, "GET", base+"/tidings/events/", eve); strings.Contains(body, "Bob") {
		t.Errorf("Eve (another shop's admin) sees the order's events: %d", code)
	}
	for i, p := range procs {
		out, err := p.Stop()
		if err != nil {
			t.Errorf("%s process after SIGTERM: %v\n%s", roles[i], err, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				t.Errorf("%s process logged: %s", roles[i], l)
			}
		}
	}
}
