package measure

import (
	"context"
	"fmt"
	"os"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/inbox"
)

// RedisDB is the database of the bench's Redis.
const RedisDB = 7

// Redis is the Redis the figures use: TIDINGS_BENCH_REDIS when set
// (anything inbox.ParseRedis takes: a Redis Cluster's nodes
// "cluster://h1:7000,h2:7001", a redis:// URL), else TIDINGS_REDIS_ADDR
// (default 127.0.0.1:6379), database 7.
func Redis() asynq.RedisConnOpt {
	if s := os.Getenv("TIDINGS_BENCH_REDIS"); s != "" {
		opt, err := inbox.ParseRedis(s, RedisDB)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: TIDINGS_BENCH_REDIS:", err)
			os.Exit(2)
		}
		switch o := opt.(type) {
		case inbox.RedisClusterOpt:
			o.PoolSize = 64
			return o
		case asynq.RedisClientOpt:
			o.PoolSize = 64
			return o
		}
		return opt
	}
	addr := os.Getenv("TIDINGS_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	return asynq.RedisClientOpt{Addr: addr, DB: RedisDB, PoolSize: 64}
}

// FlushRedis empties the bench's Redis database (every master's, on
// a cluster).
func FlushRedis(ctx context.Context) error {
	c, err := inbox.RedisClient(Redis())
	if err != nil {
		return err
	}
	defer c.Close()
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.FlushDB(ctx).Err() })
	} else {
		err = c.FlushDB(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("fanout: flush the bench's Redis (%T): %w (is Redis running?)", Redis(), err)
	}
	return nil
}
