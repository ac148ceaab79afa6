package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// figure is one row of the results table: what the library did (ours)
// against a baseline measured in the same run, and the target their ratio
// must meet.
type figure struct {
	Name     string
	Unit     string  // "ev/s" (higher is better) or "ms" (lower is better)
	Ours     float64 // the library's figure
	Baseline float64 // the baseline's figure; 0 when the row has none
	Target   target
	// Failed, when set, makes the row miss whatever the numbers say: a
	// correctness check that went wrong during the measurement (duplicate
	// rows under a throttle, for one).
	Failed string
}

// target is what a figure must meet. Zero fields are not checked.
type target struct {
	MinRatio float64 // ours/baseline >= MinRatio (throughput)
	MaxRatio float64 // ours/baseline <= MaxRatio (latency)
	Max      float64 // ours < Max, in the figure's unit
}

func (t target) isZero() bool { return t == target{} }

func (t target) String() string {
	var parts []string
	if t.MinRatio > 0 {
		parts = append(parts, fmt.Sprintf(">= %.3gx", t.MinRatio))
	}
	if t.MaxRatio > 0 {
		parts = append(parts, fmt.Sprintf("<= %.3gx", t.MaxRatio))
	}
	if t.Max > 0 {
		parts = append(parts, fmt.Sprintf("< %g", t.Max))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// ratio is ours/baseline, or NaN when the row has no baseline.
func (f figure) ratio() float64 {
	if f.Baseline == 0 {
		return math.NaN()
	}
	return f.Ours / f.Baseline
}

// ok says whether the figure meets its target: "yes", "no" or "-" (no
// target).
func (f figure) ok() string {
	if f.Failed != "" {
		return "no"
	}
	t := f.Target
	if t.isZero() {
		return "-"
	}
	r := f.ratio()
	pass := true
	if t.MinRatio > 0 && !(r >= t.MinRatio) {
		pass = false
	}
	if t.MaxRatio > 0 && !(r <= t.MaxRatio) {
		pass = false
	}
	if t.Max > 0 && !(f.Ours < t.Max) {
		pass = false
	}
	if pass {
		return "yes"
	}
	return "no"
}

func (f figure) cells() []string {
	ratio := "-"
	if r := f.ratio(); !math.IsNaN(r) {
		ratio = fmt.Sprintf("%.2fx", r)
	}
	base := "-"
	if f.Baseline != 0 {
		base = formatValue(f.Baseline, f.Unit)
	}
	tgt := f.Target.String()
	if f.Target.Max > 0 {
		tgt += " " + f.Unit
	}
	return []string{f.Name, formatValue(f.Ours, f.Unit), base, ratio, tgt, f.ok()}
}

// formatValue prints a value in its unit: throughputs as whole numbers with
// thousands separators, latencies with three decimals.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.3f ms", v)
	case "%":
		return fmt.Sprintf("%.2f %%", v)
	}
	return thousands(int64(math.Round(v))) + " " + unit
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var header = []string{"figure", "ours", "baseline", "ratio", "target", "ok"}

// writeText prints the figures as an aligned plain-text table.
func writeText(w io.Writer, figs []figure) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, f := range figs {
		fmt.Fprintln(tw, strings.Join(f.cells(), "\t"))
	}
	return tw.Flush()
}

// writeMarkdown prints the figures as a GitHub markdown table.
func writeMarkdown(w io.Writer, figs []figure) {
	line := func(cells []string) {
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	line(append([]string(nil), header...))
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- | --- |")
	for _, f := range figs {
		line(f.cells())
	}
}

// results is one run's report: the machine, the table, and the notes.
type results struct {
	machine machine
	figures []figure
	notes   []string
	tables  []table
	cmdline string
	date    time.Time
	took    time.Duration
}

func (r results) writeText(w io.Writer) error {
	r.machine.write(w, false)
	fmt.Fprintf(w, "%s, %s, took %s\n\n", r.cmdline, r.date.UTC().Format("2006-01-02"), r.took)
	if err := writeText(w, r.figures); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	for _, t := range r.tables {
		fmt.Fprintln(w)
		if err := t.writeText(w); err != nil {
			return err
		}
	}
	return nil
}

func (r results) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Machine:\n\n")
	r.machine.write(w, true)
	fmt.Fprintf(w, "\n`%s`, %s, took %s.\n\n", r.cmdline, r.date.UTC().Format("2006-01-02"), r.took)
	writeMarkdown(w, r.figures)
	fmt.Fprintf(w, "\nNotes:\n\n")
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	for _, t := range r.tables {
		fmt.Fprintln(w)
		t.writeMarkdown(w)
	}
}
