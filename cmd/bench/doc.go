// Command bench measures the library against hand-written baselines on the
// same machine, in the same run, and prints one table:
//
//	figure | ours | baseline | ratio | target | ok
//
// Each figure is a ratio, because absolute numbers say more about the
// machine than about the code: "ours" is what the library does, "baseline"
// is the same work done without it (raw pgx running the same SQL by hand)
// or a reference point of its own (a feed's first page for a page deep in
// the feed). The machine (CPU, cores, Go, PostgreSQL and its settings) is
// printed above the table; figures are observations, not asserts, and the
// program exits 0 when a target is missed. Notes under the table say what
// each row ran and record the checks made along the way (the one row of a
// throttled key, the plans of the feed's queries).
//
// # Running
//
//	go run ./cmd/bench                                  # the sizes, about 2.5 minutes on 2 cores
//	go run ./cmd/bench -scale 0.1                       # a quick run at a tenth of the sizes
//	go run ./cmd/bench -only record,throttle            # some groups
//	go run ./cmd/bench -results cmd/bench/RESULTS.md    # also write the markdown for the README
//	go run ./cmd/bench -markdown                        # print markdown instead of text
//
// It needs a PostgreSQL server (-db, a DSN without a database name; default
// $TIDINGS_PG_DSN, else host=127.0.0.1 user=postgres) on which it may create
// a database (-dbname, default tidings_bench), and drop it again on the next
// run: a database of that name that the bench did not create (it marks its
// own with a comment) stops it instead. The database is left in place
// afterwards, for EXPLAIN and psql. Progress goes to stderr,
// the results to stdout. Run it on a quiet machine: other processes on the
// same cores show up in the tails (p99) first.
//
// # Figures
//
// Groups run in order; -only selects them by name.
//
//   - feed: loads 2,000,000 events into issue_events in one INSERT ...
//     SELECT from generate_series (secondary indexes dropped and rebuilt
//     around it, then VACUUM ANALYZE): issue 1 holds 200,000 of them, the
//     rest are spread over 1,000 other issues, by 1,000 users, about 200,000
//     comments. The newest tenth of the table belongs to other issues, so
//     issue 1's head sits behind 200,000 newer events: a plan that walks the
//     domain's time index instead of the subject's would show. It times
//     issues.Feed with Limit 20 (actors and records resolved through
//     ModelResolver) at the head and at a keyset cursor 100,000 events
//     deep, reached by walking 200 pages of 500; p50 and p99 over 1,000
//     interleaved runs. Targets: the deep page's p99 within 1.3x of the
//     first page's and under 2 ms. The first page is also timed against the
//     same three queries sent through raw pgx (the two model loads in one
//     batch), the floor on the machine.
//   - record: recording throughput (events/s) through
//     issues.RecordEvent(ctx, gormDB, ...) with an actor Ref, a record Ref
//     and a small Extra, at concurrency 8 and 32, against raw pgx (pgxpool
//     of the same size) running the same statement by hand: a CTE inserting
//     the event and its outbox row, with the same pg_notify. Target 0.85x.
//   - throttle: 32 goroutines recording one key (same subject, action,
//     actor and record) with ThrottleWithin(15m), against a raw pgx
//     transaction: pg_advisory_xact_lock on the key, update the recent row,
//     else insert the event and its outbox row. Target 0.8x; afterwards each
//     side's key must hold exactly one row (printed), else the row fails.
//   - backfill: 1,000,000 past events (one correlation id) handed by an
//     inbox.Backfiller, without a rate cap, to one no-op inbox that a worker
//     processes, against the fan-out of the same events (their outbox rows
//     drained by the worker's relay to one no-op inbox), both timed to the
//     last delivery, one run each. Target 0.5x. Memory: a backfill of
//     100,000 other events runs first; for each, the process's peak RSS
//     while it runs (VmHWM, reset at its start, and VmRSS sampled every
//     20ms) and the Go heap in use (runtime/metrics, sampled as often).
//     The 1,000,000's peak RSS against the 100,000's: target 1.2x (flat).
//     -heapprofile writes a heap profile of the large one at its heap's
//     high-water. At -scale 1 this group takes about 8 minutes on 2 cores.
//   - export: one person with 1,000,000 events (seeded first, in the
//     bench process); privacy.Export of them runs in a child process (the
//     bench binary re-executed with TIDINGS_BENCH_EXPORT_CHILD set), whose
//     peak RSS (VmHWM) must stay under 64 MB; the baseline is a child
//     running raw pgx COPY (SELECT row_to_json(e) ...) TO STDOUT of the same
//     rows: events/s of both, median of up to 3 alternating rounds. Then
//     privacy.Erase of that person, and of one with 100 events in the same
//     table, each against a raw UPDATE of the same rows, in transactions
//     rolled back. About 6 minutes on 2 cores.
//   - batch: a flush of 10,000 due windows of 10 items each (package
//     inbox/batch, into a no-op channel) against a hand-written flush of
//     the same rows (claim 100 with FOR UPDATE SKIP LOCKED, one items
//     query, one mark statement per claim), alternating -rounds times on
//     fresh rows; the process's peak RSS during each (VmHWM, reset
//     before); and the cost of one batched delivery (the ledger transaction
//     with Batcher.Add) against one immediate delivery (the same
//     transaction inserting a row), 2,000 sequential deliveries a side.
//     Targets 5x, 1.5x, 1.5x.
//   - payload: what jobs of references cost the fan-out (Redis holds
//     nothing personal: jobs carry domain, event id and action, and the
//     worker loads each event from PostgreSQL) against the payloads of
//     before, each event carried in its jobs as JSON and used by the
//     worker without a query (internal/carryevents, kept for this
//     baseline only): deliveries/s draining 10,000 events as an app
//     records them (labels, request metadata, extra) to two no-op
//     inboxes, median of alternating rounds; the CPU per delivery of the
//     bench process, its database's PostgreSQL backends (/proc) and Redis
//     (INFO cpu), steadier than throughput on a shared machine; Redis
//     bytes per completed job; commit-to-inbox latency at 500 ev/s, also
//     with the app's pool saturated, the rounds alternating. Targets 0.95x
//     (1.05x for CPU and latency).
//   - observe: recording (8 workers) and fan-out with package observe's
//     Prometheus metrics and OpenTelemetry tracing on (the SDK,
//     AlwaysSample, a batch span processor, an exporter that drops the
//     spans) against off; recording also traced and counted by hand (one
//     SDK span and a counter per call, the library's observers off), the
//     floor an app reaches without package observe. Target 0.95x of off.
//   - lifecycle: recording with the subject checked in the statement
//     against a foreign key, and into a partitioned table; then 10,000,000
//     events over 24 monthly partitions and the same rows in one table:
//     the hot subject's first page on both, with and without its models,
//     and by raw pgx on the partitioned table (the month holding now, then
//     both model queries in one batch), 3,000 interleaved runs; retention
//     of 12 months by partition drop and by batched delete, with recorders
//     running. Targets: the page within 1.3x of one table and under 2 ms
//     at p99, the drop under a second, no recording waiting 100 ms on it.
//     About 8 minutes on 2 cores.
//   - webpush, sms, mobilepush (fcm and apns): the address channels'
//     deliveries per second, the inbox's whole Process as the worker
//     calls it (preferences and addresses read at once, the suppression
//     list for SMS, the ledger's claim and mark, the message worded, the
//     provider's request), against a raw HTTP POST of the same request
//     (the same bytes and headers, replayed) to the same local peer, at
//     the same number in flight. A middle row is the provider's send
//     alone (no database): it splits the HTTP client's and the crypto's
//     cost (web push: a fresh P-256 key pair, ECDH and HKDF per message,
//     RFC 8291) from the database's. Four peers, each with its rows.
//     "Answers at once, 8 in flight" lays the library's cost bare: a
//     loopback POST costs tens of microseconds of CPU, a delivery its
//     database work besides (a read, a claim, a mark: a few hundred
//     microseconds of the process and as much of PostgreSQL), so the row
//     is a POST's CPU against a delivery's, below the 0.8x target on any
//     machine: it says how much work a delivery is, not how a worker
//     fares against a provider. "Answers in 20 ms, 64 in flight" is a
//     provider close by with many jobs at once; on 2 cores ours is
//     CPU-bound there and the raw POST is not, so it too reads as CPU
//     per delivery. "Answers in 50 ms" and "in 100 ms, 20 in flight" are
//     what FCM, APNs, Twilio and the browsers' push services answer in
//     over the internet (tens to hundreds of milliseconds), at a
//     worker's default concurrency (inbox.Config.Concurrency, 20): what
//     a worker delivers against the same process posting by hand, the
//     delivery's round trips to PostgreSQL added to the provider's; their
//     rounds last at least a second. Notes give each peer's requests
//     received and deliveries marked sent (each event once), and each
//     side's CPU per operation, median of the rounds: the bench process
//     (which holds the local peer too: its share is in every side) and
//     its database's PostgreSQL backends (/proc), and the heap objects
//     the process allocated per operation, which the machine's load does
//     not change. On a loaded machine read these: the rates follow the
//     load.
//   - chat (discord and teams): the chat inbox's deliveries per second,
//     its whole Process (the route, the suppression list's check of the
//     webhook, the ledger's claim and mark, the message worded, the
//     provider's request, the POST through the inbox/webhook client with
//     its address check) against a raw HTTP POST of the same request
//     replayed to the same local webhook, over TLS on 127.0.0.1 (the
//     skeleton of discordtest and teamstest, answering as Discord, 204
//     with its rate-limit headers, and Teams, 202, do, after the peer's
//     latency). The same four peers, rows, middle row (the provider and
//     the webhook client alone) and notes as the address channels; a
//     chat delivery reads no preferences or addresses (the route is
//     configuration), so it has one query fewer than theirs.
//
// Throughput figures alternate the two sides (A B, B A, ...) in -rounds
// runs of 2 s each (8 by default), after a warm-up, and take each side's
// median, so drift during the run (checkpoints, autovacuum, a growing
// table, other work on the machine) falls on both alike.
//
// # Peers
//
// cmd/bench/river measures tidings beside River (riverqueue/river with
// riverpgxv5), in the same run on a database of its own
// (tidings_bench_river): recording in a transaction and on the pool
// against River's event row + InsertTx, commit-to-start latency with each
// side's defaults and tuned for latency, backlog deliveries, idle CPU. It
// is a module of its own, so River never enters the library's go.mod, and
// it shares this command's measurement code through internal/measure:
//
//	cd cmd/bench/river && go run .                     # about 13 minutes on 2 cores
//	cd cmd/bench/river && go run . -scale 0.1          # a quick run
//
// # Adding figures
//
// Write a file with a function returning a group (a name, a line saying
// what it measures, and a run function returning figures) and add it to
// groups in main.go. A run function gets the bench: the database through
// gorm (b.db), its DSN for raw pools (newPool), the issue domain, and
// b.size / b.duration to honour -scale. Measure ours and the baseline in
// the same run, alternating (alternate, throughput), and say in b.note what
// ran.
package main
