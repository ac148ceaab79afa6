package activity_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// TestRowLevelSecurity reads and writes a domain with row-level security
// as a role that is neither superuser nor exempt, its transaction's
// tidings.tenant set to tenant A. In the normal build the library's
// filters and the policies both hold; in the tidings_rlsonly build
// (go test -tags tidings_rlsonly -run RowLevelSecurity ./activity/) the
// library's filters are off, and the policies alone keep B's events out.
func TestRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	d := activity.MustDomain(activity.DomainConfig{
		Name: "rlsticket", Subject: activity.Subject{Table: "issues"}, Now: clock.Now,
		Tenant: activity.KeyBigint, RowLevelSecurity: true,
		Actions: []string{"opened", "opened_retracted"},
	})
	up, down := activity.MigrationSQL(d) // down first: a run before this one (-count) left the table
	role := pgtest.Name("tidings_rls_app")
	if err := testDB.Exec(down + up + `
DO $$ BEGIN CREATE ROLE ` + role + ` NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA public TO ` + role + `;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + role + `;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + role).Error; err != nil {
		t.Fatal(err)
	}
	_, i := fixture(t)
	actor := activity.Actor(activity.System("test"))
	const tA, tB = 601, 602
	var bIDs []int64
	for _, tn := range []int64{tA, tB, tA, tB} { // as the table's owner, a superuser: RLS does not apply
		r, err := d.RecordEvent(ctx, testDB, i.ID, "opened", actor, activity.InTenant(tn))
		if err != nil {
			t.Fatal(err)
		}
		if tn == tB {
			bIDs = append(bIDs, r.Event.ID)
		}
	}
	var before string
	sum := func() string {
		var s string
		if err := testDB.Raw(`SELECT md5(string_agg(x::text, '|' ORDER BY x.id)) FROM rlsticket_events x WHERE tenant_id = ?`, tB).Row().Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before = sum()
	if err := activity.SetTenant(ctx, testDB, tA); err == nil {
		t.Error("SetTenant on the pool: no error, want one (the setting would end with its statement)")
	}
	// As the app's role, in tenant A's transaction.
	asA := activity.WithTenant(ctx, tA)
	err := testDB.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET LOCAL ROLE " + role).Error; err != nil {
			return err
		}
		// No setting yet: the policies show nothing.
		if n, _, err := d.Count(activity.AcrossTenants(ctx), tx, activity.HistoryQuery{}); err != nil || n != 0 {
			t.Errorf("without tidings.tenant: %d events visible, %v; want 0", n, err)
		}
		if err := activity.SetTenant(ctx, tx, tA); err != nil {
			return err
		}
		page, err := d.Feed(asA, tx, activity.FeedQuery{Subject: i.ID})
		if err != nil {
			return err
		}
		for _, e := range page.Events() {
			if e.TenantID != "601" {
				t.Errorf("Feed as A under RLS returned event %d of tenant %s", e.ID, e.TenantID)
			}
		}
		if len(page.Entries) != 2 {
			t.Errorf("Feed as A under RLS: %d events, want A's 2", len(page.Entries))
		}
		if n, _, err := d.Count(activity.AcrossTenants(ctx), tx, activity.HistoryQuery{}); err != nil || n != 2 {
			t.Errorf("Count across tenants under A's setting = %d, %v; want A's 2", n, err)
		}
		for _, id := range bIDs {
			if _, err := d.Event(asA, tx, id); !errors.Is(err, activity.ErrEventNotFound) {
				t.Errorf("Event(B's %d) under RLS: err = %v, want ErrEventNotFound", id, err)
			}
		}
		if m, err := d.EventsByID(asA, tx, bIDs); err != nil || len(m) != 0 {
			t.Errorf("EventsByID(B's) under RLS = %d, %v", len(m), err)
		}
		res, err := d.Retract(asA, tx, activity.Retraction{Events: bIDs, Action: "opened_retracted", Reason: "attack", Actor: activity.System("test")})
		if err != nil || len(res.Retracted) != 0 {
			t.Errorf("Retract(B's) under RLS = %d retracted, %v", len(res.Retracted), err)
		}
		if _, err := d.RecordEvent(asA, tx, i.ID, "opened", actor); err != nil {
			t.Errorf("record in A under A's setting: %v", err)
		}
		// Writing B's tenant under A's setting breaks the policy's check.
		werr := tx.Transaction(func(sp *gorm.DB) error {
			_, err := d.RecordEvent(asA, sp, i.ID, "opened", actor, activity.InTenant(tB))
			return err
		})
		if werr == nil {
			t.Error("record in B under A's setting: no error, want the policy's refusal")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum() != before {
		t.Error("tenant B's events changed")
	}
}
