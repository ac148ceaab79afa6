// Package redistest gives the tests a Redis of their own, so a test run
// never touches a Redis it did not start.
//
// By default the first call to Addr or Flush in a test binary starts a
// redis-server of the binary's own on a free loopback port (keeping nothing
// on disk); it dies with the binary, however the binary ends (see spawn).
// Child processes a test starts (the test binary re-run as a worker, the
// demo's processes) inherit its address through the environment and use
// the same server.
//
// TIDINGS_REDIS_ADDR (host:port) opts in to an existing server instead, for
// machines without redis-server. The tests then flush databases there only
// when the server is theirs: it held no key at all when they first came,
// and they left MarkerKey in its database 0. A server holding keys without
// the marker is refused with an error (ErrNotScratch), never flushed.
//
// Packages still pick distinct database numbers, so they stay apart on an
// opted-in server when `go test` runs packages in parallel:
//
//	1 inbox    2 inbox/notify   3 inbox/email   4 inbox/slack
//	5 workflow 6 cmd/demo       7 cmd/bench     8 observe
//	9 projection                10 inbox/webhook 11 cmd/tidings-backfill
//	13 web/notifycenter         14 inbox/batch
//	15 internal/crosstenant      12 free
package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

const (
	// OptInEnv names an existing Redis server the tests may use instead of
	// starting their own.
	OptInEnv = "TIDINGS_REDIS_ADDR"
	// ownedEnv carries the address of the server this test binary started
	// to its child processes.
	ownedEnv = "TIDINGS_REDISTEST_OWNED_ADDR"
	// MarkerKey is the key Flush leaves in database 0 of an opted-in server
	// it found empty: it says the server is the tests' to flush.
	MarkerKey = "tidings:redistest:scratch"
)

// ErrNotScratch is returned by Flush on an opted-in server that holds keys
// but not MarkerKey: data the tests did not write.
var ErrNotScratch = errors.New("redistest: the server holds keys the tests did not write")

// shared is the test binary's Redis: started (or found) once.
var shared struct {
	once  sync.Once
	addr  string
	owned bool  // started by this binary or its parent: flushed freely
	proc  *proc // the server this binary started: held, for its pipe to the watchdog must not be collected
	err   error
}

func server() (addr string, owned bool, err error) {
	shared.once.Do(func() {
		if a := os.Getenv(ownedEnv); a != "" {
			shared.addr, shared.owned = a, true
			return
		}
		if a := os.Getenv(OptInEnv); a != "" {
			shared.addr = a
			return
		}
		p, err := spawnFree()
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				err = fmt.Errorf("redistest: redis-server is not installed (scripts/services installs it), and %s names no server to use instead", OptInEnv)
			}
			shared.err = err
			return
		}
		shared.addr, shared.owned, shared.proc = p.addr(), true, p
		os.Setenv(ownedEnv, shared.addr) // for child processes
	})
	return shared.addr, shared.owned, shared.err
}

// Addr returns the address of the test binary's Redis server, starting it
// on the first call. It panics when no server can be had (call Flush first
// in TestMain for an error instead).
func Addr() string {
	addr, _, err := server()
	if err != nil {
		panic(err)
	}
	return addr
}

// Flush empties database n of the test binary's Redis server and returns
// its options. On an opted-in server it first makes sure the server is the
// tests' (see the package documentation), else returns ErrNotScratch.
func Flush(ctx context.Context, n int) (*redis.Options, error) {
	addr, owned, err := server()
	if err != nil {
		return nil, err
	}
	return flush(ctx, addr, owned, n)
}

// flush empties database n at addr; unless owned, only on a scratch server.
func flush(ctx context.Context, addr string, owned bool, n int) (*redis.Options, error) {
	if !owned {
		if err := claim(ctx, addr); err != nil {
			return nil, err
		}
	}
	opt := &redis.Options{Addr: addr, DB: n}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redistest: flush db %d at %s: %w", n, addr, err)
	}
	if !owned && n == 0 {
		if err := mark(ctx, c); err != nil {
			return nil, fmt.Errorf("redistest: mark %s: %w", addr, err)
		}
	}
	return opt, nil
}

// claim returns nil when the server at addr is the tests' to flush: it
// holds MarkerKey in database 0, or holds no key at all (it is then
// marked). Otherwise it returns ErrNotScratch.
func claim(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	n, err := c.Exists(ctx, MarkerKey).Result()
	if err != nil {
		return fmt.Errorf("redistest: %s (%s): %w", addr, OptInEnv, err)
	}
	if n == 1 {
		return nil
	}
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		return fmt.Errorf("redistest: %s (%s): %w", addr, OptInEnv, err)
	}
	var dbs []string
	for _, l := range strings.Split(info, "\n") {
		if db, _, ok := strings.Cut(strings.TrimSpace(l), ":keys="); ok {
			dbs = append(dbs, db)
		}
	}
	if len(dbs) > 0 {
		return fmt.Errorf("%w: the server at %s (%s) holds keys in %s and no %s in db0: unset %s to let the tests start a redis-server of their own",
			ErrNotScratch, addr, OptInEnv, strings.Join(dbs, ", "), MarkerKey, OptInEnv)
	}
	return mark(ctx, c)
}

func mark(ctx context.Context, c *redis.Client) error {
	return c.Set(ctx, MarkerKey, "this server is flushed by the tidings tests (internal/redistest)", 0).Err()
}
