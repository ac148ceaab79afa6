package crosstenant_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/operations"
)

// testOperations opens the operations page as A's admin: the outbox
// backlog it shows is A's events waiting, not B's (B's comment on issue 1
// waits there too); queue sizes are totals by the page's doc.
func testOperations(t *testing.T, w *world, ctx context.Context) {
	page, err := operations.New(operations.Config{DB: appDB, Redis: redisOpt, Domains: []*activity.Domain{tickets}, Prefix: "/ops",
		Logger: slog.New(slog.DiscardHandler),
		Identity: func(*http.Request) (web.Identity, error) {
			return web.Identity{Person: activity.Ref{Type: "users", ID: "8"}, Tenant: tenantA, Admin: true}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	cover(operations.New)
	var aRows, bRows int64
	if err := testDB.Raw(`SELECT count(*) FILTER (WHERE tenant_id = ?), count(*) FILTER (WHERE tenant_id = ?) FROM activity_outbox`, tenantA, tenantB).Row().Scan(&aRows, &bRows); err != nil {
		t.Fatal(err)
	}
	if bRows == 0 {
		t.Fatal("B has no event in the outbox: the case proves nothing")
	}
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/ops/", nil))
	body, _ := io.ReadAll(rec.Body)
	noun := "events"
	if aRows == 1 {
		noun = "event"
	}
	if want := fmt.Sprintf("Outbox: %d %s waiting", aRows, noun); rec.Code != http.StatusOK || !strings.Contains(string(body), want) {
		line := string(body)
		if i := strings.Index(line, "Outbox:"); i >= 0 {
			line = line[i:min(len(line), i+80)]
		}
		t.Errorf("A's admin's operations page: %d %q; want %q (A's alone, B has %d)", rec.Code, line, want, bRows)
	}
}
