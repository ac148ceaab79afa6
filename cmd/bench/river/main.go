package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/measure"
)

// config is the command line.
type config struct {
	DSN     string
	DBName  string
	Only    []string
	Scale   float64
	Rounds  int
	Pool    int
	Results string
	River   riverSettings
}

// riverSettings are River's knobs the figures turn.
type riverSettings struct {
	Workers       int           // MaxWorkers of the queue, both tunings
	FetchCooldown time.Duration // tuned for latency
	FetchPoll     time.Duration // tuned for latency
}

// groups are the figures, in the order they run; -only picks some.
var groups = []struct {
	name string
	run  func(ctx context.Context, b *bench) ([]measure.Figure, error)
}{
	{"record", runRecord},
	{"latency", runLatency},
	{"deliveries", runDeliveries},
	{"idle", runIdle},
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "river bench:", err)
		os.Exit(2)
	}
	// The bench's Redis: database 8 unless TIDINGS_BENCH_REDIS says
	// otherwise, so that a cmd/bench run at the same time (database 7,
	// flushed before each of its figures) and this one do not empty
	// each other's queues.
	if os.Getenv("TIDINGS_BENCH_REDIS") == "" {
		addr := os.Getenv("TIDINGS_REDIS_ADDR")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		os.Setenv("TIDINGS_BENCH_REDIS", "redis://"+addr+"/8")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, log.New(os.Stderr, "river bench: ", log.Ltime)); err != nil {
		fmt.Fprintln(os.Stderr, "river bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("river", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultDSN := os.Getenv("TIDINGS_PG_DSN")
	if defaultDSN == "" {
		defaultDSN = "host=127.0.0.1 port=5432 user=postgres sslmode=disable"
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.name)
	}
	var cfg config
	var only string
	fs.StringVar(&cfg.DSN, "db", defaultDSN, "PostgreSQL server DSN without a database name (default $TIDINGS_PG_DSN, else local trust auth)")
	fs.StringVar(&cfg.DBName, "dbname", "tidings_bench_river", "database to drop, create and fill (left in place afterwards for inspection)")
	fs.StringVar(&only, "only", "", "comma-separated groups to run, of: "+strings.Join(names, ",")+" (default all)")
	fs.Float64Var(&cfg.Scale, "scale", 1, "multiplies data sizes and durations; 0.1 is a quick run")
	fs.IntVar(&cfg.Rounds, "rounds", 6, "alternating runs per side of each throughput figure (median taken; latency and idle take at most 3 and 2)")
	fs.IntVar(&cfg.Pool, "pool", 32, "connections in gorm's pool (ours) and in River's pgx pool")
	fs.StringVar(&cfg.Results, "results", "", "also write the results as markdown to this file")
	fs.IntVar(&cfg.River.Workers, "river-workers", 1000, "River's MaxWorkers (both tunings): enough for 2,000 jobs/s with its 100 ms default FetchCooldown")
	fs.DurationVar(&cfg.River.FetchCooldown, "river-fetch-cooldown", time.Millisecond, "River's FetchCooldown tuned for latency (its default is 100ms, its least 1ms)")
	fs.DurationVar(&cfg.River.FetchPoll, "river-fetch-poll", 10*time.Millisecond, "River's FetchPollInterval tuned for latency (its default is 1s)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run . [flags] (in cmd/bench/river)\n\nMeasures tidings beside River in the same run and database and prints one table.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q: takes flags only", fs.Args())
	}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(names, n) {
			return cfg, fmt.Errorf("-only: unknown group %q; groups are %s", n, strings.Join(names, ", "))
		}
		cfg.Only = append(cfg.Only, n)
	}
	if !(cfg.Scale > 0 && cfg.Scale <= 10) {
		return cfg, fmt.Errorf("-scale %g is out of range: use a number above 0 and at most 10", cfg.Scale)
	}
	if cfg.Rounds < 1 {
		return cfg, fmt.Errorf("-rounds %d: use 1 or more", cfg.Rounds)
	}
	if cfg.Pool < 1 || cfg.Pool > 40 {
		return cfg, fmt.Errorf("-pool %d: use 1 to 40 (our pool, River's pool and the relay's share the server's connections)", cfg.Pool)
	}
	if cfg.River.Workers < 1 || cfg.River.Workers > 10_000 {
		return cfg, fmt.Errorf("-river-workers %d: River takes 1 to 10,000", cfg.River.Workers)
	}
	if cfg.River.FetchCooldown < time.Millisecond || cfg.River.FetchPoll < cfg.River.FetchCooldown {
		return cfg, fmt.Errorf("-river-fetch-cooldown %s, -river-fetch-poll %s: River takes a cooldown of at least 1ms and a poll interval no shorter than it", cfg.River.FetchCooldown, cfg.River.FetchPoll)
	}
	return cfg, nil
}

// bench is what every group measures with: the bench database through
// gorm (ours) and a pgx pool on it (River's), and the run's settings.
type bench struct {
	db         *gorm.DB
	pool       *pgxpool.Pool // the app's, River's side: recordings and InsertTx
	workerPool *pgxpool.Pool // River's worker client's
	dsn        string
	issues     *activity.Domain
	scale      float64
	rounds     int
	poolSize   int
	river      riverSettings
	log        *log.Logger
	notes      []string
}

func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

func (b *bench) logf(format string, args ...any) { b.log.Printf(format, args...) }

// size scales n by -scale, never below floor.
func (b *bench) size(n, floor int) int {
	return max(floor, int(math.Round(float64(n)*b.scale)))
}

// duration scales d by -scale, never below floor.
func (b *bench) duration(d, floor time.Duration) time.Duration {
	return max(floor, time.Duration(float64(d)*b.scale))
}

func run(ctx context.Context, cfg config, out io.Writer, logger *log.Logger) error {
	started := time.Now()
	b := &bench{
		dsn:      measure.DSNFor(cfg.DSN, cfg.DBName),
		issues:   measure.NewIssueDomain(),
		scale:    cfg.Scale,
		rounds:   cfg.Rounds,
		poolSize: cfg.Pool,
		river:    cfg.River,
		log:      logger,
	}
	logger.Printf("creating database %s", cfg.DBName)
	db, err := measure.CreateDatabase(ctx, cfg.DSN, cfg.DBName, b.issues, cfg.Pool)
	if err != nil {
		return err
	}
	b.db = db
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	pool, err := measure.NewPool(ctx, b.dsn, cfg.Pool)
	if err != nil {
		return err
	}
	defer pool.Close()
	b.pool = pool
	wpool, err := measure.NewPool(ctx, b.dsn, cfg.Pool)
	if err != nil {
		return err
	}
	defer wpool.Close()
	b.workerPool = wpool
	if err := migrateRiver(ctx, pool); err != nil {
		return err
	}
	m, err := measure.DescribeMachine(ctx, db)
	if err != nil {
		return err
	}
	loadAtStart := measure.LoadAverage()

	var figs []measure.Figure
	for _, g := range groups {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, g.name) {
			continue
		}
		t := time.Now()
		fs, err := g.run(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
		logger.Printf("%s: done in %s", g.name, time.Since(t).Round(time.Millisecond))
		figs = append(figs, fs...)
	}
	if loadAtStart != "" {
		m.Load = loadAtStart + ", " + measure.LoadAverage()
	}
	r := measure.Results{Machine: m, Figures: figs, Notes: b.notes, Cmdline: commandLine(cfg), Date: started, Took: time.Since(started).Round(time.Second)}
	if cfg.Results != "" {
		f, err := os.Create(cfg.Results)
		if err != nil {
			return err
		}
		r.WriteMarkdown(f)
		if err := f.Close(); err != nil {
			return err
		}
	}
	return r.WriteText(out)
}

// commandLine renders the flags that change the figures, for the record.
func commandLine(cfg config) string {
	s := "cd cmd/bench/river && go run ."
	if cfg.Scale != 1 {
		s += fmt.Sprintf(" -scale %g", cfg.Scale)
	}
	if cfg.Rounds != 6 {
		s += fmt.Sprintf(" -rounds %d", cfg.Rounds)
	}
	if cfg.Pool != 32 {
		s += fmt.Sprintf(" -pool %d", cfg.Pool)
	}
	if cfg.River.Workers != 1000 {
		s += fmt.Sprintf(" -river-workers %d", cfg.River.Workers)
	}
	if cfg.River.FetchCooldown != time.Millisecond {
		s += fmt.Sprintf(" -river-fetch-cooldown %s", cfg.River.FetchCooldown)
	}
	if cfg.River.FetchPoll != 10*time.Millisecond {
		s += fmt.Sprintf(" -river-fetch-poll %s", cfg.River.FetchPoll)
	}
	if len(cfg.Only) > 0 {
		s += " -only " + strings.Join(cfg.Only, ",")
	}
	return s
}
