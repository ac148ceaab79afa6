package measure

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Figure is one row of the results table: what the library did (ours)
// against a baseline measured in the same run, and the target their ratio
// must meet.
type Figure struct {
	Name     string
	Unit     string  // "ev/s" (higher is better) or "ms" (lower is better)
	Ours     float64 // the library's figure
	Baseline float64 // the baseline's figure; 0 when the row has none
	Target   Target
	// Failed, when set, makes the row miss whatever the numbers say: a
	// correctness check that went wrong during the measurement (duplicate
	// rows under a throttle, for one).
	Failed string
}

// Target is what a figure must meet. Zero fields are not checked.
type Target struct {
	MinRatio float64 // ours/baseline >= MinRatio (throughput)
	MaxRatio float64 // ours/baseline <= MaxRatio (latency)
	Max      float64 // ours < Max, in the figure's unit
}

func (t Target) isZero() bool { return t == Target{} }

func (t Target) String() string {
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

// Ratio is ours/baseline, or NaN when the row has no baseline.
func (f Figure) Ratio() float64 {
	if f.Baseline == 0 {
		return math.NaN()
	}
	return f.Ours / f.Baseline
}

// OK says whether the figure meets its target: "yes", "no" or "-" (no
// target).
func (f Figure) OK() string {
	if f.Failed != "" {
		return "no"
	}
	t := f.Target
	if t.isZero() {
		return "-"
	}
	r := f.Ratio()
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

func (f Figure) cells() []string {
	ratio := "-"
	if r := f.Ratio(); !math.IsNaN(r) {
		ratio = fmt.Sprintf("%.2fx", r)
	}
	base := "-"
	if f.Baseline != 0 {
		base = FormatValue(f.Baseline, f.Unit)
	}
	tgt := f.Target.String()
	if f.Target.Max > 0 {
		tgt += " " + f.Unit
	}
	return []string{f.Name, FormatValue(f.Ours, f.Unit), base, ratio, tgt, f.OK()}
}

// FormatValue prints a value in its unit: throughputs as whole numbers with
// thousands separators, latencies with three decimals.
func FormatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.3f ms", v)
	case "%":
		return fmt.Sprintf("%.2f %%", v)
	}
	return Thousands(int64(math.Round(v))) + " " + unit
}

// Thousands prints n with commas between groups of three digits.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Thousands(-n)
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

// WriteText prints the figures as an aligned plain-text table.
func WriteText(w io.Writer, figs []Figure) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, f := range figs {
		fmt.Fprintln(tw, strings.Join(f.cells(), "\t"))
	}
	return tw.Flush()
}

// WriteMarkdown prints the figures as a GitHub markdown table.
func WriteMarkdown(w io.Writer, figs []Figure) {
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

// Results is one run's report: the machine, the table, and the notes.
type Results struct {
	Machine Machine
	Figures []Figure
	Notes   []string
	Cmdline string
	Date    time.Time
	Took    time.Duration
}

// WriteText prints the report as plain text: the machine, the command
// line, the table, the notes.
func (r Results) WriteText(w io.Writer) error {
	r.Machine.write(w, false)
	fmt.Fprintf(w, "%s, %s, took %s\n\n", r.Cmdline, r.Date.UTC().Format("2006-01-02"), r.Took)
	if err := WriteText(w, r.Figures); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	return nil
}

// WriteMarkdown prints the report as markdown (for RESULTS.md and the
// README).
func (r Results) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Machine:\n\n")
	r.Machine.write(w, true)
	fmt.Fprintf(w, "\n`%s`, %s, took %s.\n\n", r.Cmdline, r.Date.UTC().Format("2006-01-02"), r.Took)
	WriteMarkdown(w, r.Figures)
	fmt.Fprintf(w, "\nNotes:\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}
