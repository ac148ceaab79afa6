package tidings

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ShutdownTimeout is how long Serve waits for requests in flight when it
// stops.
const ShutdownTimeout = 10 * time.Second

// Serve runs the process's Config.Role until ctx ends or the process gets
// SIGINT or SIGTERM (unless Config.IgnoreSignals): the web side, h (the
// app's mux, with Handler mounted in it) wrapped in Middleware and served
// on addr, and the worker side (Start). Then it stops both gracefully: the
// notification center's open streams end, requests in flight get
// ShutdownTimeout, and the worker side stops (Stop). It returns nil after a
// graceful stop. RoleWorker serves nothing on addr: it is Run.
func (c *Client) Serve(ctx context.Context, addr string, h http.Handler) error {
	if c.cfg.Role == RoleWorker {
		return c.Run(ctx)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if c.cfg.Role == RoleAll {
		if err := c.Start(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	c.cfg.Logger.Info("tidings: serving", "addr", ln.Addr().String(), "role", orDefault(string(c.cfg.Role), "web and worker"))
	return c.serve(ctx, ln, h)
}

func (c *Client) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	if !c.cfg.IgnoreSignals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	srv := &http.Server{Handler: c.Middleware(h), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if c.web.center != nil {
		c.web.center.Close() // open streams end, so Shutdown need not wait for them
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := c.Stop(sctx); err == nil {
		err = serr
	}
	if errors.Is(<-errc, http.ErrServerClosed) && err == nil {
		return nil
	}
	return err
}
