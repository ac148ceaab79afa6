// Command river measures tidings beside River (riverqueue/river with
// riverpgxv5), the peer a Go team on PostgreSQL would pick, in the same
// run on the same database, and prints one table of figures in
// cmd/bench's format: each row is ours against River's, with the ratio
// and the target of issue 27.
//
// It is a module of its own (cmd/bench/river/go.mod, with a replace of
// github.com/tidingsdev/tidings by ../../..), so River is never a dependency
// of the library: the root module's go build, go vet, go test and go mod
// tidy do not enter this folder. It shares cmd/bench's measurement code
// (internal/measure: the bench database and its fixture, the recording
// call, the latency, deliveries and idle measurements of the library).
//
// Run it from this folder, with PostgreSQL and Redis up as for cmd/bench:
//
//	cd cmd/bench/river && go run .
//
// (-results FILE also writes the table and notes as markdown.) Its Redis
// is database 8 of TIDINGS_REDIS_ADDR (127.0.0.1:6379) unless
// TIDINGS_BENCH_REDIS names one: cmd/bench flushes its database 7 before
// its figures, and a run of each at once would empty each other's queues.
// -dbname (default tidings_bench_river) is dropped and created as cmd/bench
// does with its own (internal/scratchdb: only a database the bench made is
// ever dropped). -scale 0.1 is a quick run.
//
// River's form of the pattern is the app's event row and a River job
// inserted with InsertTx in one transaction (raw pgx: a pgxpool of the same
// size as our gorm pool, the event row written by one INSERT returning its
// id), worked by a River client in the same process on a pool of its own
// (as our worker has its own connections). Ours is RecordEvent
// (the event row and its outbox row in one statement), fanned out by a
// worker (relay, Redis, asynq server).
//
// The figures:
//   - recording throughput at concurrency 8, 32 and 64: ours inside a gorm
//     transaction and on the pool (autocommit) against River's transaction
//     (event row + InsertTx) with River's default FetchCooldown (its insert
//     notifications are limited to one per FetchCooldown per queue);
//   - commit-to-start latency, p50 and p99, at 500 and 2,000 events/s:
//     from the commit's return to the start of the inbox's Process (ours)
//     or the job's Work (River's), each side with its defaults and tuned
//     for latency (ours: measure.TunedForLatency; River: FetchCooldown and
//     FetchPollInterval small, -river-fetch-cooldown and -river-fetch-poll);
//     River is given -river-workers workers (MaxWorkers), enough for the
//     rate with its default 100 ms cooldown;
//   - deliveries per second draining a backlog to no-op handlers (ours: a
//     backlog of events to 2 inboxes; River's: as many jobs);
//   - idle CPU of a worker with nothing to do, in percent of one core:
//     the process, the Redis server (ours), and the PostgreSQL backends of
//     the bench database (both: River's idle cost is its polling queries).
package main
