package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/privacy"
)

// exportGroup measures privacy.Export of one person with 1,000,000 events
// against a raw pgx COPY (...) TO STDOUT of the same rows as JSON, each in
// a child process of its own (the bench binary re-executed), so the peak
// RSS reported is the exporting process's alone: not the seeding, not the
// bench. Then it measures privacy.Erase (rewriting in place) of that
// person and of one with 100 events in the same table, each against a raw
// UPDATE of the same rows, inside transactions rolled back. Last, what
// crypto-shredding (the alternative) would cost recording (shred.go).
func exportGroup() group {
	return group{
		name:  "export",
		about: "export of a person with 1,000,000 events (child process: peak RSS, events/s vs raw COPY); erase time vs raw UPDATE; recording with crypto-shredding vs in clear",
		run:   runExport,
	}
}

const (
	exportChildEnv  = "TIDINGS_BENCH_EXPORT_CHILD" // "ours" or "copy"
	exportDSNEnv    = "TIDINGS_BENCH_EXPORT_DSN"
	exportPerson    = "bench-export"
	exportFewPerson = "bench-export-few"
)

// exportResult is what a child prints: how many lines and bytes it
// wrote, in how long, and its memory high-water marks.
type exportResult struct {
	Lines    int64   `json:"lines"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	HWMKB    int64   `json:"vm_hwm_kb"`    // peak RSS of the child (VmHWM)
	HeapPeak uint64  `json:"heap_peak"`    // Go heap objects, sampled every 5ms
	StartKB  int64   `json:"start_rss_kb"` // RSS before the export began
}

// exportSQL selects the person's events the way the library's first
// query does, as JSON (the baseline's COPY).
const exportCopySQL = `COPY (SELECT row_to_json(e) FROM (SELECT * FROM issue_events WHERE actor_type = 'users' AND actor_id = '` + exportPerson + `' ORDER BY occurred_at DESC, id DESC) e) TO STDOUT`

func runExport(ctx context.Context, b *bench) ([]figure, error) {
	events := b.size(1_000_000, 5_000)
	b.logf("export: recording %d events of one person (and 100 of another)", events)
	for done := 0; done < events; done += 100_000 {
		n := min(100_000, events-done)
		if err := b.db.WithContext(ctx).Exec(`INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, extra, ip, user_agent, occurred_at)
SELECT 1 + g % ?, 'comment_added', 'users', ?, 'Export Person', jsonb_build_object('email', 'export.person@example.org', 'length', g % 500),
       '203.0.113.9', 'Mozilla/5.0 (X11; Linux x86_64) BenchBrowser/1.0', now() - make_interval(secs => g)
  FROM generate_series(?::int, ?::int) g`, fixtureIssues, exportPerson, done+1, done+n).Error; err != nil {
			return nil, err
		}
	}
	if err := b.db.WithContext(ctx).Exec(`INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, ip, user_agent)
SELECT 1 + g % ?, 'comment_added', 'users', ?, 'Few Events', '203.0.113.10', 'FewBrowser/1.0' FROM generate_series(1, 100) g`, fixtureIssues, exportFewPerson).Error; err != nil {
		return nil, err
	}
	if err := b.db.WithContext(ctx).Exec(`VACUUM ANALYZE issue_events`).Error; err != nil {
		return nil, err
	}
	var total int64
	if err := b.db.WithContext(ctx).Raw(`SELECT count(*) FROM issue_events`).Scan(&total).Error; err != nil {
		return nil, err
	}

	rounds := max(1, min(b.rounds, 3))
	var ourRates, copyRates []float64
	var ours, base exportResult
	for i := range rounds {
		b.logf("export: round %d of %d", i+1, rounds)
		o, err := runExportChild(ctx, b.dsn, "ours")
		if err != nil {
			return nil, err
		}
		c, err := runExportChild(ctx, b.dsn, "copy")
		if err != nil {
			return nil, err
		}
		if o.Lines < int64(events) || c.Lines != int64(events) {
			return nil, fmt.Errorf("export: exported %d lines and copied %d, want %d events", o.Lines, c.Lines, events)
		}
		ourRates = append(ourRates, float64(events)/o.Seconds)
		copyRates = append(copyRates, float64(events)/c.Seconds)
		if o.HWMKB > ours.HWMKB {
			ours = o
		}
		if c.HWMKB > base.HWMKB {
			base = c
		}
	}

	// Erasure by rewriting, rolled back each time (the data stays for the
	// next round and figure).
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{b.issues}})
	if err != nil {
		return nil, err
	}
	eraseOurs := func(id string) (time.Duration, error) {
		tx := b.db.WithContext(ctx).Begin()
		defer tx.Rollback()
		start := time.Now()
		_, err := px.Erase(ctx, tx, activity.Person{Type: "users", ID: id}, privacy.Request{By: "bench"})
		return time.Since(start), err
	}
	eraseRaw := func(id string) (time.Duration, error) {
		tx := b.db.WithContext(ctx).Begin()
		defer tx.Rollback()
		start := time.Now()
		err := tx.Exec(`UPDATE issue_events SET actor_label = 'erased person', ip = NULL, user_agent = NULL, extra = extra - 'email'
WHERE actor_type = 'users' AND actor_id = ?`, id).Error
		return time.Since(start), err
	}
	b.logf("export: erasing %d events (rolled back), ours then raw", events)
	bigOurs, err := eraseOurs(exportPerson)
	if err != nil {
		return nil, err
	}
	bigRaw, err := eraseRaw(exportPerson)
	if err != nil {
		return nil, err
	}
	var fewOurs, fewRaw []float64
	for range rounds {
		o, err := eraseOurs(exportFewPerson)
		if err != nil {
			return nil, err
		}
		r, err := eraseRaw(exportFewPerson)
		if err != nil {
			return nil, err
		}
		fewOurs = append(fewOurs, float64(o.Microseconds())/1000)
		fewRaw = append(fewRaw, float64(r.Microseconds())/1000)
	}

	shred, err := shredFigure(ctx, b)
	if err != nil {
		return nil, err
	}

	b.note("export: privacy.Export of one person's %s events (JSON lines, keyset batches of %d, 64 KiB write buffer, to a counting writer) in a child process (the bench binary re-executed: its RSS is the export's alone, the seeding ran in the parent): peak RSS (VmHWM) %.1f MB, RSS before the export %.1f MB, Go heap objects peak %.1f MB, %s bytes written. Baseline: raw pgx COPY (SELECT row_to_json(e) ...) TO STDOUT of the same rows in a child of its own: peak RSS %.1f MB. Median of %d alternating rounds.",
		thousands(int64(events)), activity.DefaultExportBatch, float64(ours.HWMKB)/1024, float64(ours.StartKB)/1024, float64(ours.HeapPeak)/(1<<20), thousands(ours.Bytes), float64(base.HWMKB)/1024, rounds)
	b.note("export: erasure rewrites in place (privacy.Erase: masks labels, IP, user agent, personal paths; scans error texts, snapshots and notifications once; records the erasure), in a transaction rolled back. A person with %s events in a table of %s: %.1f s (raw UPDATE of the same rows' label, IP, user agent and extra path: %.1f s). A person with 100 events: median %.0f ms against %.1f ms for the raw UPDATE on the actor index: the difference is the whole-table scans for copies of the person's values (in other people's events' personal paths and tags, and in every other library table).",
		thousands(int64(events)), thousands(total), bigOurs.Seconds(), bigRaw.Seconds(), median(fewOurs), median(fewRaw))
	return []figure{
		{Name: fmt.Sprintf("export peak RSS, %s events (child process; vs raw COPY child)", thousands(int64(events))), Unit: "MB",
			Ours: float64(ours.HWMKB) / 1024, Baseline: float64(base.HWMKB) / 1024, Target: target{Max: 64}},
		{Name: fmt.Sprintf("export events/s, %s events (vs raw pgx COPY TO STDOUT as JSON)", thousands(int64(events))), Unit: "ev/s",
			Ours: median(ourRates), Baseline: median(copyRates)},
		{Name: fmt.Sprintf("erase %s events of one person (vs raw UPDATE)", thousands(int64(events))), Unit: "ms",
			Ours: float64(bigOurs.Milliseconds()), Baseline: float64(bigRaw.Milliseconds())},
		{Name: fmt.Sprintf("erase a person with 100 events among %s (vs raw UPDATE)", thousands(total)), Unit: "ms",
			Ours: median(fewOurs), Baseline: median(fewRaw)},
		shred,
	}, nil
}

// runExportChild runs the bench binary again as an export child and
// returns what it measured.
func runExportChild(ctx context.Context, dsn, mode string) (exportResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return exportResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$") // a test binary runs no tests; the bench ignores it (see exportChildMain)
	cmd.Env = append(os.Environ(), exportChildEnv+"="+mode, exportDSNEnv+"="+dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return exportResult{}, fmt.Errorf("export child (%s): %w: %s", mode, err, stderr.String())
	}
	var r exportResult
	if err := json.Unmarshal(out, &r); err != nil {
		return exportResult{}, fmt.Errorf("export child (%s) printed %q: %w", mode, out, err)
	}
	return r, nil
}

// exportChildMain runs the export child when the environment asks for it
// (runExportChild), prints its result and reports true; otherwise it
// reports false at once. main and TestMain call it first.
func exportChildMain() bool {
	mode := os.Getenv(exportChildEnv)
	if mode == "" {
		return false
	}
	r, err := exportChild(context.Background(), mode, os.Getenv(exportDSNEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "export child:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	return true
}

// countingWriter counts what is written to it, and its lines.
type countingWriter struct{ bytes, lines int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes += int64(len(p))
	for _, c := range p {
		if c == '\n' {
			w.lines++
		}
	}
	return len(p), nil
}

func exportChild(ctx context.Context, mode, dsn string) (exportResult, error) {
	var r exportResult
	w := &countingWriter{}
	runtime.GC()
	r.StartKB = rssKB("VmRSS")
	// Sample the Go heap while the export runs.
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	switch mode {
	case "ours":
		db, err := openGorm(dsn, 2)
		if err != nil {
			return r, err
		}
		px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{newIssueDomain()}})
		if err != nil {
			return r, err
		}
		if err := px.Export(ctx, db, activity.Person{Type: "users", ID: exportPerson}, w); err != nil {
			return r, err
		}
	case "copy":
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return r, err
		}
		defer conn.Close(ctx)
		if _, err := conn.PgConn().CopyTo(ctx, w, exportCopySQL); err != nil {
			return r, err
		}
	default:
		return r, errors.New("unknown mode " + mode)
	}
	r.Seconds = time.Since(start).Seconds()
	close(stop)
	<-sampled
	r.Lines, r.Bytes, r.HWMKB, r.HeapPeak = w.lines, w.bytes, rssKB("VmHWM"), peak.Load()
	return r, nil
}
