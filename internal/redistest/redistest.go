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
// machines without redis-server. The tests then flush a database there only
// when it is empty or holds the marker key a previous test run left
// (MarkerKey); any other database is refused with an error, never flushed.
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
	// MarkerKey is the key Flush leaves in each database it flushes on an
	// opted-in server: it says the database is the tests' to flush again.
	MarkerKey = "tidings:redistest:scratch"
)

// ErrNotScratch is returned by Flush for a database on an opted-in server
// that holds keys but not MarkerKey: data the tests did not write.
var ErrNotScratch = errors.New("redistest: the database holds keys the tests did not write")

// shared is the test binary's Redis: started (or found) once.
var shared struct {
	once  sync.Once
	addr  string
	owned bool // started by this binary or its parent: flushed freely
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
		shared.addr, shared.owned = p.addr(), true
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
// its options. On an opted-in server it refuses (ErrNotScratch) a database
// that holds keys but not MarkerKey, and leaves MarkerKey in the database
// it flushed.
func Flush(ctx context.Context, n int) (*redis.Options, error) {
	addr, owned, err := server()
	if err != nil {
		return nil, err
	}
	return flush(ctx, addr, owned, n)
}

// flush empties database n at addr, guarded by MarkerKey unless owned.
func flush(ctx context.Context, addr string, owned bool, n int) (*redis.Options, error) {
	opt := &redis.Options{Addr: addr, DB: n}
	c := redis.NewClient(opt)
	defer c.Close()
	if !owned {
		size, err := c.DBSize(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("redistest: db %d at %s (%s): %w", n, addr, OptInEnv, err)
		}
		if size > 0 {
			if c.Exists(ctx, MarkerKey).Val() == 0 {
				return nil, fmt.Errorf("%w: database %d at %s (%s) holds %d keys and not %s; unset %s to let the tests start a redis-server of their own",
					ErrNotScratch, n, addr, OptInEnv, size, MarkerKey, OptInEnv)
			}
		}
	}
	if err := c.FlushDB(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redistest: flush db %d at %s: %w", n, addr, err)
	}
	if !owned {
		if err := c.Set(ctx, MarkerKey, "flushed by the tidings tests (internal/redistest)", 0).Err(); err != nil {
			return nil, fmt.Errorf("redistest: mark db %d at %s: %w", n, addr, err)
		}
	}
	return opt, nil
}
