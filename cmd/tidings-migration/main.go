// Command tidings-migration writes the goose migration that creates a
// domain's events table, its indexes and its throttle function:
//
//	go run github.com/tidingsdev/tidings/cmd/tidings-migration \
//	    -domain issue -subject issues -key bigint -dir migrations
//
// writes migrations/<next number>_issue_events.sql. Without -dir it prints
// the file. Apply the library's migrations (package migrations) first.
// With -upgrade it writes the upgrade of a table made by an earlier
// version (activity.GooseUpgrade: the tags and retraction columns).
//
// -tenant bigint (or uuid, text) declares the domain tenanted: the table
// gets a tenant_id column and indexes that lead with it; -rls adds
// row-level security policies on it (activity.DomainConfig.RowLevelSecurity).
// -upgrade-tenant org_id writes the migration that makes an existing
// untenanted table tenanted, each event taking the tenant in its subject
// row's org_id column (activity.GooseUpgradeTenant):
//
//	go run github.com/tidingsdev/tidings/cmd/tidings-migration \
//	    -domain issue -tenant bigint -upgrade-tenant org_id -dir migrations
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tidings-migration:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("tidings-migration", flag.ContinueOnError)
	name := fs.String("domain", "", "domain name, like issue (required)")
	table := fs.String("table", "", "events table (default <domain>_events)")
	subject := fs.String("subject", "", "subject table (default <domain>s)")
	key := fs.String("key", "id", "subject table's primary key column")
	keyType := fs.String("key-type", "bigint", "subject key type: bigint, uuid or text")
	dir := fs.String("dir", "", "write the file into this goose migrations folder, numbered after the newest one there")
	upgrade := fs.Bool("upgrade", false, "write the upgrade of a table made by an earlier version (tags and retraction columns) instead")
	tenant := fs.String("tenant", "", "tenant key type of a tenanted domain: bigint, uuid or text (default: not tenanted)")
	rls := fs.Bool("rls", false, "with -tenant: add row-level security policies keyed on the tidings.tenant setting")
	upgradeTenant := fs.String("upgrade-tenant", "", "write the upgrade that makes an existing untenanted table tenanted instead, filling tenant_id from this column of the subject table (needs -tenant)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := activity.NewDomain(activity.DomainConfig{
		Name: *name, Table: *table,
		Subject: activity.Subject{Table: *subject, Key: *key, KeyType: activity.KeyType(*keyType)},
		Actions: []string{"placeholder"}, // actions live in code, not in the schema
		Tenant:  activity.KeyType(*tenant), RowLevelSecurity: *rls,
	})
	if err != nil {
		return err
	}
	text, suffix := activity.GooseMigration(d), ""
	if *upgrade {
		text, suffix = activity.GooseUpgrade(d), "_history"
	}
	if *upgradeTenant != "" {
		if text, err = activity.GooseUpgradeTenant(d, *upgradeTenant); err != nil {
			return err
		}
		suffix = "_tenant"
	}
	if *dir == "" {
		_, err := fmt.Print(text)
		return err
	}
	next, err := nextVersion(*dir)
	if err != nil {
		return err
	}
	path := filepath.Join(*dir, fmt.Sprintf("%05d_%s%s.sql", next, d.Table(), suffix))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}

var versionRE = regexp.MustCompile(`^(\d+)_.*\.sql$`)

func nextVersion(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var max int64
	for _, e := range entries {
		if m := versionRE.FindStringSubmatch(e.Name()); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			max = maxOf(max, v)
		}
	}
	return max + 1, nil
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
