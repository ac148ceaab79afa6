package inbox

import (
	"crypto/tls"
	"fmt"
	"net"

	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// RedisClusterOpt connects asynq (and so the relay, the worker and the
// dead letters) to a Redis Cluster. It is asynq.RedisClusterClientOpt
// plus the one setting a failover needs: how often the client reloads the
// cluster's slot map. go-redis reloads it every 60s by default (and
// asynq's option cannot change that), so after a master fails the client
// keeps sending its slots' commands to the dead node until then: deliveries
// stalled for about 40s in a measurement. With StateReloadInterval 500ms they
// resume within a couple of seconds of the replica's promotion (itself
// within the cluster's cluster-node-timeout).
//
// A cluster has only database 0: run several apps on one cluster with
// Config.App. asynq keeps each queue in one hash slot (its keys carry
// {queue}), so one queue lives on one master: spread the work with
// Policy.Shards and per-inbox queues (see the README's sizing notes).
type RedisClusterOpt struct {
	// Addrs seeds the cluster's nodes: a few of its masters' host:port.
	Addrs []string
	// Username and Password authenticate (Redis ACLs).
	Username, Password string
	// StateReloadInterval is how often the slot map is reloaded (one
	// CLUSTER SLOTS per client). Default 500ms.
	StateReloadInterval time.Duration
	// MaxRedirects is how many MOVED/ASK redirects and network errors a
	// command follows. Default go-redis's 3: during a failover a command
	// for the dead master's slots then fails fast, and the relay retries
	// its rows (measured: more redirects only held batches longer).
	MaxRedirects int
	// DialTimeout, ReadTimeout, WriteTimeout: go-redis's defaults (5s, 3s,
	// 3s) when zero.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize is the connection pool size per node. Default go-redis's.
	PoolSize int
	// TLSConfig, when set, connects with TLS.
	TLSConfig *tls.Config
}

// MakeRedisClient implements asynq.RedisConnOpt.
func (o RedisClusterOpt) MakeRedisClient() any {
	if o.StateReloadInterval <= 0 {
		o.StateReloadInterval = 500 * time.Millisecond
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: o.Addrs, Username: o.Username, Password: o.Password,
		ClusterStateReloadInterval: o.StateReloadInterval,
		MaxRedirects:               o.MaxRedirects,
		DialTimeout:                o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolSize: o.PoolSize, TLSConfig: o.TLSConfig,
	})
}

var _ asynq.RedisConnOpt = RedisClusterOpt{}

// ParseRedis reads a Redis location as the demo and cmd/bench take it:
//
//	127.0.0.1:6379               one server, database 0 (db sets another)
//	redis://:pw@host:6379/2      one server, database 2
//	rediss://host:6380/0         one server over TLS
//	cluster://h1:7000,h2:7001    a Redis Cluster seeded by these nodes
//	h1:7000,h2:7001,h3:7002      a Redis Cluster too (more than one address)
//
// db applies to a bare host:port only.
func ParseRedis(s string, db int) (asynq.RedisConnOpt, error) {
	s = strings.TrimSpace(s)
	bad := func(reason string) error {
		return &ConfigError{Field: "Redis address", Reason: fmt.Sprintf("%q %s; use host:port, redis://[user:password@]host:port/db, or cluster://host:port,host:port", s, reason)}
	}
	if rest, ok := strings.CutPrefix(s, "cluster://"); ok {
		addrs, err := hostPorts(rest)
		if err != nil {
			return nil, bad(err.Error())
		}
		return RedisClusterOpt{Addrs: addrs}, nil
	}
	if strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://") {
		opt, err := redis.ParseURL(s)
		if err != nil {
			return nil, bad(err.Error())
		}
		o := asynq.RedisClientOpt{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig}
		return o, nil
	}
	if strings.Contains(s, ",") {
		addrs, err := hostPorts(s)
		if err != nil {
			return nil, bad(err.Error())
		}
		return RedisClusterOpt{Addrs: addrs}, nil
	}
	if _, err := hostPorts(s); err != nil {
		return nil, bad(err.Error())
	}
	if db < 0 || db > 15 {
		return nil, bad(fmt.Sprintf("with database %d (Redis has 0-15 by default)", db))
	}
	return asynq.RedisClientOpt{Addr: s, DB: db}, nil
}

func hostPorts(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("has %q, not host:port", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("has port %q, not 1-65535", port)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("names no server")
	}
	return out, nil
}

// RedisClient returns a go-redis client for opt (a server or a cluster),
// for tools that read Redis directly. Close it after.
func RedisClient(opt asynq.RedisConnOpt) (redis.UniversalClient, error) {
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, &ConfigError{Field: "Redis", Reason: fmt.Sprintf("%T does not make a go-redis client", opt)}
	}
	return c, nil
}
