// Command tidings-migration writes the goose migration that creates a
// domain's events table, its indexes and its throttle function. Run it
// from your app's module (which requires github.com/tidingsdev/tidings):
//
//	go run github.com/tidingsdev/tidings/cmd/tidings-migration \
//	    -domain category -subject categories -dir migrations
//
// writes migrations/<latest + 1>_category_events.sql: numbered after the
// newest migration in -dir, so the subject table (made by one of your
// earlier migrations) exists when it runs. -subject is required: the tool
// never guesses a plural. Without -dir it prints the file. Apply the
// library's migrations (package migrations) first.
//
// -partition monthly (or weekly, daily) makes the table partitioned by
// time (activity.Partitioning); -cascade makes it reference the subject
// ON DELETE CASCADE (activity.Cascade; by default deleting a subject keeps
// its history). With -upgrade it writes the upgrade of a table made by an
// earlier version (activity.GooseUpgrade: the tags and retraction columns,
// and the subject's foreign key dropped unless -cascade).
//
// -tenant bigint (or uuid, text) declares the domain tenanted: the table
// gets a tenant_id column and indexes that lead with it; -rls adds
// row-level security policies on it (activity.DomainConfig.RowLevelSecurity).
// -library-rls writes, instead of a domain's migration, the one that puts
// the library's own tenant tables (outbox, notifications, preferences,
// rules, ...) under the same row-level security
// (migrations.GooseRowLevelSecurity): once per app, numbered after the
// newest migration in -dir, so it runs after the library's migrations. It
// needs no -domain or -subject:
//
//	go run github.com/tidingsdev/tidings/cmd/tidings-migration -library-rls -dir migrations
//
// With either, request handlers run their transactions with
// activity.SetTenant, and the relay, the worker, sweepers and retention
// connect as a role with BYPASSRLS (see package migrations, Row-level
// security).
//
// -upgrade-tenant org_id writes the migration that makes an existing
// untenanted table tenanted, each event taking the tenant in its subject
// row's org_id column (activity.GooseUpgradeTenant):
//
//	go run github.com/tidingsdev/tidings/cmd/tidings-migration \
//	    -domain issue -subject issues -tenant bigint -upgrade-tenant org_id -dir migrations
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/migrations"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tidings-migration:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tidings-migration", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("domain", "", "domain name, like category (required)")
	table := fs.String("table", "", "events table (default <domain>_events)")
	subject := fs.String("subject", "", "the subject table, as your migrations create it, like categories (required)")
	key := fs.String("key", "id", "subject table's primary key column")
	keyType := fs.String("key-type", "bigint", "subject key type: bigint, uuid or text")
	dir := fs.String("dir", "", "write the file into this goose migrations folder, numbered after the newest one there")
	partition := fs.String("partition", "", "partition the table by time: monthly, weekly or daily (default: one table)")
	cascade := fs.Bool("cascade", false, "delete a subject's events with it (ON DELETE CASCADE) instead of keeping its history")
	upgrade := fs.Bool("upgrade", false, "write the upgrade of a table made by an earlier version (tags and retraction columns, no cascade) instead")
	tenant := fs.String("tenant", "", "tenant key type of a tenanted domain: bigint, uuid or text (default: not tenanted)")
	rls := fs.Bool("rls", false, "with -tenant: add row-level security policies keyed on the tidings.tenant setting (the domain's events table; see -library-rls)")
	libraryRLS := fs.Bool("library-rls", false, "write the row-level security of the library's own tenant tables instead (once per app; no -domain or -subject)")
	upgradeTenant := fs.String("upgrade-tenant", "", "write the upgrade that makes an existing untenanted table tenanted instead, filling tenant_id from this column of the subject table (needs -tenant)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: use flags only", fs.Args())
	}
	if *libraryRLS {
		if *name != "" || *subject != "" || *tenant != "" || *rls || *upgrade || *upgradeTenant != "" {
			return errors.New("-library-rls writes the library tables' row-level security alone: drop the domain's flags (-domain, -subject, -tenant, -rls, -upgrade, -upgrade-tenant) and write the domain's migration with a second run")
		}
		return write(*dir, "tidings_rls", migrations.GooseRowLevelSecurity(), stdout)
	}
	if *subject == "" {
		return fmt.Errorf("-subject is required: name the table the %s events are about, as your migrations create it (like categories); the tool does not guess plurals", orDomain(*name))
	}
	cfg := activity.DomainConfig{
		Name: *name, Table: *table,
		Subject: activity.Subject{Table: *subject, Key: *key, KeyType: activity.KeyType(*keyType)},
		Actions: []string{"placeholder"}, // actions live in code, not in the schema
		Tenant:  activity.KeyType(*tenant), RowLevelSecurity: *rls,
	}
	if *cascade {
		cfg.OnSubjectDelete = activity.Cascade
	}
	switch *partition {
	case "":
	case "monthly":
		cfg.Partition = &activity.Partitioning{Interval: activity.Monthly}
	case "weekly":
		cfg.Partition = &activity.Partitioning{Interval: activity.Weekly}
	case "daily":
		cfg.Partition = &activity.Partitioning{Interval: activity.Daily}
	default:
		return fmt.Errorf("-partition %q: use monthly, weekly or daily", *partition)
	}
	d, err := activity.NewDomain(cfg)
	if err != nil {
		return err
	}
	text, suffix := activity.GooseMigration(d), ""
	if *upgrade {
		if cfg.Partition != nil {
			return errors.New("-upgrade does not partition an existing table: drop -partition (see activity's doc, Upgrading an events table)")
		}
		text, suffix = activity.GooseUpgrade(d), "_history"
	}
	if *upgradeTenant != "" {
		if text, err = activity.GooseUpgradeTenant(d, *upgradeTenant); err != nil {
			return err
		}
		suffix = "_tenant"
	}
	if *dir != "" {
		_, found, err := scan(*dir, *subject)
		if err != nil {
			return err
		}
		if !found {
			fmt.Fprintf(stderr, "tidings-migration: warning: no migration in %s creates table %s; create it in an earlier migration, or the events table's checks will find no subjects\n", *dir, *subject)
		}
	}
	return write(*dir, d.Table()+suffix, text, stdout)
}

// write prints text, or with dir writes it into dir as
// <newest version + 1>_<name>.sql.
func write(dir, name, text string, stdout io.Writer) error {
	if dir == "" {
		_, err := fmt.Fprint(stdout, text)
		return err
	}
	latest, _, err := scan(dir, "")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf("%05d_%s.sql", latest+1, name))
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists already", path)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote", path)
	return nil
}

func orDomain(name string) string {
	if name == "" {
		return "domain's"
	}
	return name
}

var versionRE = regexp.MustCompile(`^(\d+)_.*\.sql$`)

// scan returns the newest migration version in dir and whether one of its
// migrations creates the subject table.
func scan(dir, subject string) (latest int64, found bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false, err
	}
	create := regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?("?\w+"?\.)?"?` + regexp.QuoteMeta(subject) + `"?\s*\(`)
	for _, e := range entries {
		m := versionRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: version %s is out of range", e.Name(), m[1])
		}
		latest = max(latest, v)
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, false, err
		}
		found = found || create.Match(b)
	}
	return latest, found, nil
}
