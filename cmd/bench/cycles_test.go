package main

import (
	"bytes"
	"context"
	"errors"
	"log"
	"os/exec"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgprivate"
)

// TestCycles runs the fault cycles at a small scale (3 cycles of a private
// PostgreSQL restarted and a private Redis killed empty, 20 events a
// second): every event recorded reaches both of the worker's inboxes
// once, and each cycle has its row of counts. Whether the counts stay
// bounded is the bench's figure, not asserted here.
func TestCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a private PostgreSQL, a private Redis and a worker process")
	}
	var progress bytes.Buffer
	b := &bench{issues: newIssueDomain(), scale: 0.1, rounds: 1, poolSize: 8, log: log.New(&progress, "", 0)}
	figs, err := runCycles(context.Background(), b)
	if errors.Is(err, pgprivate.ErrNotInstalled) || errors.Is(err, exec.ErrNotFound) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := writeText(&out, figs); err != nil {
		t.Fatal(err)
	}
	for _, tb := range b.tables {
		if err := tb.writeText(&out); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("\n%s\n%s", out.String(), strings.Join(b.notes, "\n"))
	if len(figs) != 6 {
		t.Fatalf("%d figures, want 6", len(figs))
	}
	once := figs[len(figs)-1]
	if once.Failed != "" || once.Ours != once.Baseline || !(once.Ours > 0) {
		t.Errorf("delivered once: %v of %v events; %s", once.Ours, once.Baseline, once.Failed)
	}
	if len(b.tables) != 1 || len(b.tables[0].rows) != 4 {
		t.Errorf("want one table of 4 rows (before the faults and 3 cycles), got %+v", b.tables)
	}
	for _, f := range figs[:len(figs)-1] {
		if !(f.Ours > 0) || !(f.Baseline > 0) {
			t.Errorf("figure %q: ours %v, baseline %v", f.Name, f.Ours, f.Baseline)
		}
	}
}
