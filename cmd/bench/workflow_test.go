package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
)

// TestWorkflow runs the workflow figures at a small scale against the real
// PostgreSQL: each figure is produced.
func TestWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the workflow figures against PostgreSQL")
	}
	ctx := context.Background()
	var progress bytes.Buffer
	// TIDINGS_BENCH_WORKFLOW_SCALE=1 runs the full sample counts.
	scale := 0.05
	if s, err := strconv.ParseFloat(os.Getenv("TIDINGS_BENCH_WORKFLOW_SCALE"), 64); err == nil && s > 0 {
		scale = s
	}
	b := &bench{issues: newIssueDomain(), scale: scale, rounds: 1, poolSize: 8, log: log.New(&progress, "", 0)}
	db, err := createDatabase(ctx, "host=127.0.0.1 port=5432 user=postgres sslmode=disable", pgtest.Name("tidings_test_bench_workflow"), b.issues, b.poolSize)
	if err != nil {
		t.Fatal(err)
	}
	b.db = db
	figs, err := runWorkflow(ctx, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := writeText(&out, figs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s\n%s", out.String(), strings.Join(b.notes, "\n"))
	if len(figs) != 4 {
		t.Fatalf("%d figures, want 4", len(figs))
	}
	for _, f := range figs {
		if !(f.Ours > 0) || !(f.Baseline > 0) {
			t.Errorf("figure %q: ours %v, baseline %v", f.Name, f.Ours, f.Baseline)
		}
	}
}
