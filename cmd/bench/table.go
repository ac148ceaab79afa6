package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// table is a group's table of observations printed under the figures and
// notes: rows a figure sums up (the fault cycles' counts, one row per
// cycle), for the record. b.table adds one.
type table struct {
	title  string
	header []string
	rows   [][]string
}

// table adds a table printed under the notes.
func (b *bench) table(title string, header []string, rows [][]string) {
	b.tables = append(b.tables, table{title: title, header: header, rows: rows})
}

func (t table) writeText(w io.Writer) error {
	fmt.Fprintf(w, "%s\n\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.header, "\t")+"\t")
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	return tw.Flush()
}

func (t table) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "%s\n\n", t.title)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.header, " | "), strings.Repeat(" ---: |", len(t.header)))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}
