package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

func TestMedianAndPercentile(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 1 2 = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 1 3 2 = %v, want 2.5", got)
	}
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 1: time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", p, got, want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentile sorted its argument in place")
	}
}

// alternate must swap which side goes first each round and hand each side
// its own results.
func TestAlternate(t *testing.T) {
	var order []string
	a := func() (float64, error) { order = append(order, "a"); return float64(len(order)), nil }
	b := func() (float64, error) { order = append(order, "b"); return 100 + float64(len(order)), nil }
	ma, mb, err := alternate(3, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "abbaab" {
		t.Errorf("order %q, want abbaab", got)
	}
	// a ran at positions 1, 4, 5; b at 2, 3, 6.
	if ma != 4 || mb != 103 {
		t.Errorf("medians %v %v, want 4 and 103", ma, mb)
	}
	boom := errors.New("boom")
	if _, _, err := alternate(2, a, func() (float64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
}

func TestThroughputStopsOnFirstError(t *testing.T) {
	boom := errors.New("boom")
	_, err := throughput(context.Background(), 4, time.Hour, func(ctx context.Context, w, i int) error {
		if w == 2 && i == 10 {
			return boom
		}
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	rate, err := throughput(context.Background(), 2, 20*time.Millisecond, func(context.Context, int, int) error { return nil })
	if err != nil || rate <= 0 {
		t.Fatalf("rate %v, error %v", rate, err)
	}
}

func TestFigureVerdicts(t *testing.T) {
	for _, c := range []struct {
		f    figure
		want string
	}{
		{figure{Ours: 90, Baseline: 100, Target: target{MinRatio: 0.85}}, "yes"},
		{figure{Ours: 80, Baseline: 100, Target: target{MinRatio: 0.85}}, "no"},
		{figure{Ours: 1.2, Baseline: 1, Unit: "ms", Target: target{MaxRatio: 1.3, Max: 2}}, "yes"},
		{figure{Ours: 1.4, Baseline: 1, Unit: "ms", Target: target{MaxRatio: 1.3, Max: 2}}, "no"},
		{figure{Ours: 2.5, Baseline: 2.4, Unit: "ms", Target: target{MaxRatio: 1.3, Max: 2}}, "no"},
		{figure{Ours: 90, Baseline: 100, Target: target{MinRatio: 0.8}, Failed: "2 rows"}, "no"},
		{figure{Ours: 1, Unit: "ms"}, "-"},
		{figure{Ours: 1, Target: target{MinRatio: 0.8}}, "no"}, // no baseline: no ratio to meet
	} {
		if got := c.f.OK(); got != c.want {
			t.Errorf("%+v: ok %q, want %q", c.f, got, c.want)
		}
	}
	if r := (figure{Ours: 1}).Ratio(); !math.IsNaN(r) {
		t.Errorf("ratio without a baseline = %v, want NaN", r)
	}
}

func TestTables(t *testing.T) {
	figs := []figure{
		{Name: "record, concurrency 8", Unit: "ev/s", Ours: 12345.4, Baseline: 13000, Target: target{MinRatio: 0.85}},
		{Name: "feed | deep, p99", Unit: "ms", Ours: 1.25, Baseline: 1, Target: target{MaxRatio: 1.3, Max: 2}},
	}
	var text bytes.Buffer
	if err := writeText(&text, figs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"figure", "12,345 ev/s", "13,000 ev/s", "0.95x", ">= 0.85x", "1.250 ms", "<= 1.3x, < 2 ms", "yes"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, text.String())
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, figs)
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "| ---") {
		t.Fatalf("markdown table:\n%s", md.String())
	}
	if !strings.Contains(lines[3], `feed \| deep`) {
		t.Errorf("a | in a cell is not escaped: %s", lines[3])
	}
}

func TestDSNFor(t *testing.T) {
	for in, want := range map[string]string{
		"host=127.0.0.1 user=postgres":              "host=127.0.0.1 user=postgres dbname=x",
		"postgres://u@h:5432":                       "postgres://u@h:5432/x",
		"postgres://u@h:5432/other?sslmode=disable": "postgres://u@h:5432/x?sslmode=disable",
		"postgresql://u:p@h/?connect_timeout=5&a=b": "postgresql://u:p@h/x?connect_timeout=5&a=b",
	} {
		if got := dsnFor(in, "x"); got != want {
			t.Errorf("dsnFor(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWithSetting: the setting reaches the server's sessions, from either
// form of DSN.
func TestWithSetting(t *testing.T) {
	for in, want := range map[string]string{
		"host=h dbname=x":      "host=h dbname=x synchronous_commit=off",
		"postgres://u@h/x":     "postgres://u@h/x?synchronous_commit=off",
		"postgres://u@h/x?a=b": "postgres://u@h/x?a=b&synchronous_commit=off",
	} {
		if got := withSetting(in, "synchronous_commit", "off"); got != want {
			t.Errorf("withSetting(%q) = %q, want %q", in, got, want)
		}
	}
	dsn := dsnFor("host=127.0.0.1 port=5432 user=postgres sslmode=disable", "postgres")
	db, err := openGorm(withSetting(dsn, "synchronous_commit", "off"), 1)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	var v string
	if err := db.Raw("SHOW synchronous_commit").Scan(&v).Error; err != nil || v != "off" {
		t.Errorf("synchronous_commit on the pool = %q (%v), want off", v, err)
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-only", "record, feed", "-scale", "0.5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Only, ",") != "record,feed" || cfg.Scale != 0.5 || cfg.Rounds != defaultRounds {
		t.Errorf("config %+v", cfg)
	}
	for _, args := range [][]string{{"-only", "recrd"}, {"-scale", "0"}, {"-rounds", "0"}, {"-pool", "500"}, {"extra"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// groupsTestedAlone are the groups a test of their own runs (TestFanout,
// TestLifecycle, ...), at scales their checks need.
var groupsTestedAlone = []string{"cycles", "fanout", "durability", "payload", "workflow", "observe", "push", "backfill", "export", "batch", "lifecycle", "tenant"}

// TestRun runs the program at a small scale against the real server, with
// the groups that have no test of their own (the others' tests run them):
// each figure is produced, the throttle check passes, the feed's queries
// use the subject's index, and the results file holds the table.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every figure against PostgreSQL")
	}
	var only, names []string // a group added without a test of its own runs here
	for _, g := range groups() {
		names = append(names, g.name)
		if !slices.Contains(groupsTestedAlone, g.name) {
			only = append(only, g.name)
		}
	}
	for _, name := range groupsTestedAlone {
		if !slices.Contains(names, name) {
			t.Errorf("groupsTestedAlone names %q, which is not a group (groups: %s)", name, strings.Join(names, ", "))
		}
	}
	cfg, err := parseFlags([]string{"-dbname", pgtest.Name("tidings_test_bench"), "-only", strings.Join(only, ","), "-scale", "0.01", "-rounds", "1", "-pool", "8",
		"-results", t.TempDir() + "/RESULTS.md"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	if err := run(context.Background(), cfg, &out, log.New(&progress, "", 0)); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	got := out.String()
	for _, want := range []string{
		"PostgreSQL", "feed first page, p50 (vs raw pgx)", "feed page 1,000 deep, p99 (vs first page)", "record vs raw pgx without notify, concurrency 8", "record vs seed's gorm tx + Enqueue, concurrency 64",
		"old baseline: raw pgx with a pg_notify per event, concurrency 32", "bulk record, 1000 events per call, vs raw unnest",
		"throttled record, 32 on 1 key", "throttle (ours): the hot key holds 1 row", "throttle (baseline): the hot key holds 1 row",
		"Index Scan using issue_events_subject_feed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "FAILED") {
		t.Errorf("a check failed:\n%s", got)
	}
	md, err := os.ReadFile(cfg.Results)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| figure | ours | baseline | ratio | target | ok |") {
		t.Errorf("RESULTS.md lacks the table:\n%s", md)
	}
}
