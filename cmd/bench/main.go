package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/internal/measure"
)

// groups lists the figure groups in the order they run. The feed group
// runs first: it loads the 2,000,000 events, so the recording figures after
// it write to a table of realistic size.
func groups() []group {
	return []group{feedGroup(), recordGroup(), throttleGroup(), fanoutGroup(), durabilityGroup(), payloadGroup(), workflowGroup(), observeGroup(), pushGroup(), backfillGroup(), exportGroup(), batchGroup(), lifecycleGroup(), tenantGroup(), faultsGroup(), cyclesGroup(), webpushGroup(), smsGroup(), mobilepushGroup(), chatGroup()}
}

// config is the command line.
type config struct {
	DSN         string
	DBName      string
	Only        []string
	Scale       float64
	Rounds      int
	Pool        int
	Markdown    bool
	Results     string
	CPUProfile  string
	HeapProfile string
	// LifecycleEvents sizes the lifecycle group's data set.
	LifecycleEvents int
}

func main() {
	if exportChildMain() || cyclesChildMain() || clusterChildMain() {
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, log.New(os.Stderr, "bench: ", log.Ltime)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultDSN := os.Getenv("TIDINGS_PG_DSN")
	if defaultDSN == "" {
		defaultDSN = "host=127.0.0.1 port=5432 user=postgres sslmode=disable"
	}
	var names []string
	for _, g := range groups() {
		names = append(names, g.name)
	}
	var cfg config
	var only string
	fs.StringVar(&cfg.DSN, "db", defaultDSN, "PostgreSQL server DSN without a database name (default $TIDINGS_PG_DSN, else local trust auth)")
	fs.StringVar(&cfg.DBName, "dbname", "tidings_bench", "database to drop, create and fill (left in place afterwards for inspection)")
	fs.StringVar(&only, "only", "", "comma-separated groups to run, of: "+strings.Join(names, ",")+" (default all)")
	fs.Float64Var(&cfg.Scale, "scale", 1, "multiplies data sizes, durations and run counts; 1 is the issue's sizes, 0.1 a quick run")
	fs.IntVar(&cfg.Rounds, "rounds", defaultRounds, "alternating runs per side of each ours-vs-baseline throughput figure (median taken)")
	fs.IntVar(&cfg.Pool, "pool", 32, "connections in gorm's pool and in each raw pgx baseline pool")
	fs.BoolVar(&cfg.Markdown, "markdown", false, "print the results as markdown (for the README) instead of a text table")
	fs.StringVar(&cfg.Results, "results", "", "also write the results as markdown to this file (cmd/bench/RESULTS.md)")
	fs.IntVar(&cfg.LifecycleEvents, "lifecycle-events", 0, "events of the lifecycle group's partitioned data set (default 10,000,000 times -scale)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run (the bench process, not the server) to this file")
	fs.StringVar(&cfg.HeapProfile, "heapprofile", "", "write a heap profile of the backfill group's full-size backfill, at its heap's high-water, to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/bench [flags]\n\nMeasures the library against raw-pgx baselines in the same run and prints one table.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q: bench takes flags only", fs.Args())
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
	if cfg.LifecycleEvents < 0 || cfg.LifecycleEvents > 100_000_000 {
		return cfg, fmt.Errorf("-lifecycle-events %d: use 0 (the default) to 100,000,000", cfg.LifecycleEvents)
	}
	if cfg.Pool < 1 || cfg.Pool > 90 {
		return cfg, fmt.Errorf("-pool %d: use 1 to 90 (two pools share the server's connections)", cfg.Pool)
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config, out io.Writer, logger *log.Logger) error {
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	started := time.Now()
	b := &bench{
		dsn:      dsnFor(cfg.DSN, cfg.DBName),
		issues:   newIssueDomain(),
		scale:    cfg.Scale,
		rounds:   cfg.Rounds,
		poolSize: cfg.Pool,
		log:      logger,

		heapProfile:     cfg.HeapProfile,
		lifecycleEvents: cfg.LifecycleEvents,
	}
	logger.Printf("creating database %s", cfg.DBName)
	db, err := createDatabase(ctx, cfg.DSN, cfg.DBName, b.issues, cfg.Pool)
	if err != nil {
		return err
	}
	b.db = db
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	m, err := measure.DescribeMachine(ctx, db)
	if err != nil {
		return err
	}
	loadAtStart := measure.LoadAverage()

	var figs []figure
	for _, g := range groups() {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, g.name) {
			continue
		}
		logger.Printf("%s: %s", g.name, g.about)
		t := time.Now()
		fs, err := g.run(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
		logger.Printf("%s: done in %s", g.name, time.Since(t).Round(time.Millisecond))
		figs = append(figs, fs...)
	}
	elapsed := time.Since(started).Round(time.Second)
	if loadAtStart != "" {
		m.Load = loadAtStart + ", " + measure.LoadAverage()
	}

	r := results{Results: measure.Results{Machine: m, Figures: figs, Notes: b.notes, Cmdline: commandLine(cfg), Date: started, Took: elapsed}, tables: b.tables}
	if cfg.Results != "" {
		f, err := os.Create(cfg.Results)
		if err != nil {
			return err
		}
		r.writeMarkdown(f)
		if err := f.Close(); err != nil {
			return err
		}
	}
	if cfg.Markdown {
		r.writeMarkdown(out)
		return nil
	}
	return r.writeText(out)
}

// commandLine renders the flags that change the figures, for the record.
func commandLine(cfg config) string {
	s := "go run ./cmd/bench"
	if cfg.Scale != 1 {
		s += fmt.Sprintf(" -scale %g", cfg.Scale)
	}
	if cfg.Rounds != defaultRounds {
		s += fmt.Sprintf(" -rounds %d", cfg.Rounds)
	}
	if cfg.Pool != 32 {
		s += fmt.Sprintf(" -pool %d", cfg.Pool)
	}
	if len(cfg.Only) > 0 {
		s += " -only " + strings.Join(cfg.Only, ",")
	}
	if cfg.LifecycleEvents > 0 {
		s += fmt.Sprintf(" -lifecycle-events %d", cfg.LifecycleEvents)
	}
	return s
}
