// Command tidings-backfill shows the progress of backfills (package inbox,
// Backfiller): events done of total, rate and ETA.
//
//	go run github.com/tidingsdev/tidings/cmd/tidings-backfill -db "host=127.0.0.1 user=postgres dbname=app" list
//	go run github.com/tidingsdev/tidings/cmd/tidings-backfill -db ... status 7
//	go run github.com/tidingsdev/tidings/cmd/tidings-backfill -db ... watch 7
//
// watch prints the progress every -every until the backfill is no longer
// running. Backfills are started and run by the app, which knows its
// inboxes (inbox.Backfiller.Create and Run).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/inbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tidings-backfill:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tidings-backfill", flag.ContinueOnError)
	dsn := fs.String("db", os.Getenv("TIDINGS_DB"), "PostgreSQL DSN of the app's database (default $TIDINGS_DB)")
	every := fs.Duration("every", 2*time.Second, "how often watch prints")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tidings-backfill -db DSN list | status ID | watch ID\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("-db is required (or set TIDINGS_DB)")
	}
	if *every <= 0 {
		return errors.New("-every must be positive")
	}
	db, err := gorm.Open(postgres.Open(*dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	cmd := fs.Arg(0)
	id := int64(0)
	if cmd == "status" || cmd == "watch" {
		if fs.NArg() != 2 {
			return fmt.Errorf("%s takes one backfill ID", cmd)
		}
		id, err = strconv.ParseInt(fs.Arg(1), 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("backfill ID %q is not a positive integer", fs.Arg(1))
		}
	}
	switch cmd {
	case "list":
		bs, err := inbox.ListBackfills(ctx, db, 50)
		if err != nil {
			return err
		}
		for _, b := range bs {
			fmt.Fprintln(out, b)
		}
		return nil
	case "status":
		b, err := inbox.GetBackfill(ctx, db, id, nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, b)
		return nil
	case "watch":
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			b, err := inbox.GetBackfill(ctx, db, id, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s %s\n", time.Now().Format(time.TimeOnly), b)
			if b.Status != inbox.BackfillRunning && b.Status != inbox.BackfillPending {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q: use list, status or watch", cmd)
}
