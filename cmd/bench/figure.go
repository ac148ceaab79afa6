package main

import (
	"fmt"
	"io"

	"github.com/tidingsdev/tidings/internal/measure"
)

// The figures table and the machine's description are internal/measure's,
// which the peer benchmarks (cmd/bench/river) print too.
type (
	figure = measure.Figure
	target = measure.Target
)

// thousands prints n with commas between groups of three digits.
func thousands(n int64) string { return measure.Thousands(n) }

// writeText prints the figures as an aligned plain-text table.
func writeText(w io.Writer, figs []figure) error { return measure.WriteText(w, figs) }

// writeMarkdown prints the figures as a GitHub markdown table.
func writeMarkdown(w io.Writer, figs []figure) { measure.WriteMarkdown(w, figs) }

// results is one run's report: measure's (the machine, the table, the
// notes) and the groups' tables under it.
type results struct {
	measure.Results
	tables []table
}

func (r results) writeText(w io.Writer) error {
	if err := r.Results.WriteText(w); err != nil {
		return err
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
	r.Results.WriteMarkdown(w)
	for _, t := range r.tables {
		fmt.Fprintln(w)
		t.writeMarkdown(w)
	}
}
