package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Throughput figures alternate the sides in many short runs rather than a
// few long ones: other work on a shared machine comes in bursts, and a
// median over more runs shrugs off more of them.
const (
	defaultRounds = 8               // runs per side (-rounds)
	roundLength   = 2 * time.Second // one run, at -scale 1
)

// group is a set of figures measured together (they share a data set or a
// setup). -only selects groups by name. To add figures, write a file with a
// function returning a group and list it in groups (main.go).
type group struct {
	name  string
	about string
	run   func(ctx context.Context, b *bench) ([]figure, error)
}

// bench is what every group measures with: the bench database through
// gorm (the library's path) and its DSN (for the raw baselines), the
// declared issue domain, and the run's settings.
type bench struct {
	db       *gorm.DB
	dsn      string
	issues   *activity.Domain
	scale    float64
	rounds   int // alternating rounds per ours-vs-baseline figure
	poolSize int // connections for gorm's pool and for each baseline pool
	log      *log.Logger
	notes    []string
	tables   []table

	heapProfile string // -heapprofile: the backfill group's heap profile
	// lifecycleEvents is the lifecycle group's data set (0: 10,000,000
	// scaled by -scale).
	lifecycleEvents int
}

// note adds a line printed under the table: what a figure's numbers do not
// say by themselves (a check's result, a plan).
func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// size scales n by -scale, never below floor.
func (b *bench) size(n, floor int) int {
	return max(floor, int(math.Round(float64(n)*b.scale)))
}

// duration scales d by -scale, never below floor.
func (b *bench) duration(d, floor time.Duration) time.Duration {
	return max(floor, time.Duration(float64(d)*b.scale))
}

func (b *bench) logf(format string, args ...any) { b.log.Printf(format, args...) }
