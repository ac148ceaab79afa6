package main

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/internal/measure"
)

// The bench's Redis is internal/measure's (TIDINGS_BENCH_REDIS, else
// TIDINGS_REDIS_ADDR, database 7), shared with the peer benchmarks.

const benchRedisDB = measure.RedisDB

func benchRedis() asynq.RedisConnOpt { return measure.Redis() }

func flushBenchRedis(ctx context.Context) error { return measure.FlushRedis(ctx) }
