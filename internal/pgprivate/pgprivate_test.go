package pgprivate

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A private cluster answers on its own port, its restart ends every
// session (a connection from before fails, a new one works), and Stop
// removes it.
func TestRestartEndsSessions(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx, Config{MaxConnections: 20, Settings: map[string]string{"fsync": "off"}})
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Port == 5432 {
		t.Fatal("the private server took the shared server's port")
	}
	before, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close(ctx)
	var maxConn string
	if err := before.QueryRow(ctx, "SHOW max_connections").Scan(&maxConn); err != nil || maxConn != "20" {
		t.Fatalf("max_connections %q, %v; want 20", maxConn, err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := before.Ping(ctx); err == nil {
		t.Fatal("a session from before the restart still answers")
	}
	after, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	after.Close(ctx)
}
