// Package redistest gives each test package a Redis database of its own on
// the real Redis server, flushed at start. Packages pick distinct numbers
// (listed here so they stay distinct):
//
//	1 inbox    2 inbox/notify   3 inbox/email   4 inbox/slack
//	5 workflow 6 cmd/demo       7 cmd/bench     8 observe
//	9 projection                10 inbox/webhook 11 cmd/tidings-backfill
//	13 web/notifycenter         14 inbox/batch
//	15 internal/crosstenant      12 free
//
// The server is found through TIDINGS_REDIS_ADDR (default 127.0.0.1:6379).
package redistest

import (
	"context"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
)

// Addr returns the test Redis server's address.
func Addr() string {
	if a := os.Getenv("TIDINGS_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Flush empties database n and returns its options.
func Flush(ctx context.Context, n int) (*redis.Options, error) {
	opt := &redis.Options{Addr: Addr(), DB: n}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redistest: flush db %d at %s: %w (is Redis running? see .ci/run)", n, Addr(), err)
	}
	return opt, nil
}
