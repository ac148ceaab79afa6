package main

import (
	"flag"
	"os"
	"testing"

	"github.com/tidingsdev/tidings/activity"
)

var update = flag.Bool("update", false, "rewrite migrations/00002_issue_events.sql from the issue domain")

// The committed events-table migration is what activity.GooseMigration
// renders for the issue domain; regenerate it with
// go test ./cmd/demo -run TestIssueEventsMigration -update.
func TestIssueEventsMigration(t *testing.T) {
	d, err := activity.NewDomain(issueDomainConfig(activity.DomainConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	const path = "migrations/00002_issue_events.sql"
	want := activity.GooseMigration(d)
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with activity.GooseMigration(issue domain); run go test ./cmd/demo -run TestIssueEventsMigration -update", path)
	}
}

// The upgrade of databases made before the tags and retraction columns is
// what activity.GooseUpgrade renders (a no-op on a table made by 00002).
func TestIssueEventsUpgradeMigration(t *testing.T) {
	d, err := activity.NewDomain(issueDomainConfig(activity.DomainConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	// 00006 runs the same upgrade again for databases that applied 00004
	// before it dropped the subject foreign key (deleting an issue keeps
	// its history).
	for _, path := range []string{"migrations/00004_issue_events_history.sql", "migrations/00006_issue_events_keep_history.sql"} {
		want := activity.GooseUpgrade(d)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%s is out of date with activity.GooseUpgrade(issue domain); run go test ./cmd/demo -run TestIssueEventsUpgradeMigration -update", path)
		}
	}
}

// The upgrade to organisations (migrations/00020_issue_events_tenant.sql)
// is what activity.GooseUpgradeTenant renders for the tenanted issue
// domain, every event taking its issue's organisation.
func TestIssueEventsTenantMigration(t *testing.T) {
	d, err := newIssueDomain(activity.DomainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const path = "migrations/00020_issue_events_tenant.sql"
	want, err := activity.GooseUpgradeTenant(d, "org_id")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with activity.GooseUpgradeTenant(issue domain); run go test ./cmd/demo -run TestIssueEventsTenantMigration -update", path)
	}
}

// The event catalog in catalog/ is what the issue domain declares; a new
// or changed action without regenerating fails here. Regenerate with
// go test ./cmd/demo -run TestEventCatalog -update.
func TestEventCatalog(t *testing.T) {
	d, err := newIssueDomain(activity.DomainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := activity.WriteCatalog("catalog", d); err != nil {
			t.Fatal(err)
		}
	}
	if err := activity.CheckCatalog("catalog", d); err != nil {
		t.Fatalf("%v (go run ./cmd/demo -write-catalog cmd/demo/catalog, or go test ./cmd/demo -run TestEventCatalog -update)", err)
	}
}
