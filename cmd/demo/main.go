// Command demo is a small issue tracker built on tidings: every change to an
// issue is recorded as an event in issue_events, shown as activity feeds, and
// fanned out to inboxes.
//
//	go run ./cmd/demo
//
// creates the tidings_demo database if missing, migrates it, seeds a few
// users, projects and issues, and serves http://127.0.0.1:8080. See -h for
// flags; each has a TIDINGS_DEMO_* environment variable. -role web and
// -role worker run the pages and the background work as two processes
// (live notifications reach the web process through Redis).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if cfg.WriteCatalog != "" {
		if err := writeCatalog(cfg.WriteCatalog); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		return
	}
	// go-redis logs each failed dial; the demo reports Redis being down in
	// one line of its own.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config) error {
	logger := log.New(os.Stderr, "demo: ", log.LstdFlags)
	cfg.Log = logger.Printf
	cfg = cfg.withDefaults()
	if cfg.Role == RoleWorker {
		app, err := NewApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer app.Close()
		if cfg.MetricsAddr != "" {
			ln, err := net.Listen("tcp", cfg.MetricsAddr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (pick another address with -metrics-addr)", cfg.MetricsAddr, err)
			}
			srv := &http.Server{Handler: app.OpsHandler(), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			fmt.Printf("tidings demo: worker metrics at http://%s/metrics, health at http://%s/healthz\n", ln.Addr(), ln.Addr())
		}
		fmt.Println("tidings demo: worker running (relay, inboxes, workflow engine); stop with Ctrl-C")
		return app.Run(ctx)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another demo running? pick another address with -addr)", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.BaseURL == "http://"+cfg.Addr {
		cfg.BaseURL = "http://" + ln.Addr().String()
	}
	app, err := NewApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer app.Close()
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- app.Run(ctx) }()
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("tidings demo: open http://%s/\n", ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	// Open event streams end with the client, so Shutdown need not wait
	// for them.
	app.client.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
