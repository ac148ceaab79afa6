package retention_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/retention"
)

// One run prunes each table by its own rule, step by step; a zero
// duration keeps that table forever (here: dead letters, digests, runs).
func ExampleJob_Run() {
	job, err := retention.New(retention.Config{
		DB:                db, // the app's *gorm.DB
		Domains:           []*activity.Domain{plain},
		ReadNotifications: 90 * 24 * time.Hour,
		Deliveries:        180 * 24 * time.Hour,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)), // default: one line per step
	})
	if err != nil {
		panic(err)
	}
	rep, err := job.Run(context.Background())
	if err != nil {
		panic(err)
	}
	for _, s := range rep.Steps {
		fmt.Println(s.Name)
	}
	// Output:
	// events plain
	// notifications
	// deliveries ledger
}
