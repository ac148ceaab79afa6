package migrations_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// TestNotificationHeadsPerTenant checks migration 00020 on data of the
// shape before it: one head per recipient, shared by its tenants. Up gives
// each (tenant, recipient) with notifications its own head, never below
// the old shared one (no number a client saw is given again), and lets two
// tenants' streams of one recipient hold the same Seq; down refuses while
// they do, and once they no longer do, puts back one head per recipient,
// the highest.
func TestNotificationHeadsPerTenant(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_migrations_heads")
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	lib, err := migrations.Library(sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.DownTo(ctx, 19); err != nil {
		t.Fatal(err)
	}
	insert := func(recipient string, seq int64, tenant any, event int64) error {
		return db.Exec(`INSERT INTO notifications (recipient, seq, domain, event_id, inbox, action, subject_id, actor_type, actor_id, occurred_at, tenant_id)
VALUES (?, ?, 'ticket', ?, 'notify', 'commented', '1', 'users', '7', now(), ?)`, recipient, seq, event, tenant).Error
	}
	// Recipient 8 in tenants 1 and 2 and untenanted, on one counter: 1 and
	// 2 are tenant 1's, 3 tenant 2's, 4 untenanted; 5 was deleted (head 5).
	// Recipient 9 has a head and no notifications left.
	for i, r := range []struct {
		seq    int64
		tenant any
	}{{1, "1"}, {2, "1"}, {3, "2"}, {4, nil}} {
		if err := insert("8", r.seq, r.tenant, int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`INSERT INTO notification_heads (recipient, seq) VALUES ('8', 5), ('9', 3)`).Error; err != nil {
		t.Fatal(err)
	}
	if err := lib.Up(ctx); err != nil {
		t.Fatal(err)
	}
	heads := func() string {
		t.Helper()
		var rows []struct {
			TenantID, Recipient string
			Seq                 int64
		}
		if err := db.Raw(`SELECT * FROM notification_heads ORDER BY recipient, tenant_id`).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(r.TenantID + "/" + r.Recipient + "=" + itoa(r.Seq) + " ")
		}
		return strings.TrimSpace(b.String())
	}
	if got, want := heads(), "/8=5 1/8=5 2/8=5 /9=3"; got != want {
		t.Errorf("heads after up = %q, want %q", got, want)
	}
	// Tenant 2's stream now numbers on its own: Seq 6 in both tenants.
	if err := insert("8", 6, "1", 10); err != nil {
		t.Fatal(err)
	}
	if err := insert("8", 6, "2", 11); err != nil {
		t.Fatalf("the same Seq in another tenant's stream: %v", err)
	}
	if err := insert("8", 6, "2", 12); err == nil {
		t.Fatal("a Seq twice in one tenant's stream was accepted")
	}
	if err := insert("8", 4, nil, 13); err == nil {
		t.Fatal("a Seq twice in the untenanted stream was accepted (NULLS NOT DISTINCT)")
	}
	db.Exec(`UPDATE notification_heads SET seq = 6 WHERE recipient = '8' AND tenant_id IN ('1', '2')`)
	if err := lib.DownTo(ctx, 19); err == nil || !strings.Contains(err.Error(), "share a Seq") {
		t.Fatalf("down with Seq 6 in two tenants' streams: err = %v, want the refusal", err)
	}
	if v, _ := lib.Version(ctx); v != 20 {
		t.Fatalf("after the refused down the version is %d, want 20", v)
	}
	if err := db.Exec(`DELETE FROM notifications WHERE recipient = '8' AND seq = 6 AND tenant_id = '2'`).Error; err != nil {
		t.Fatal(err)
	}
	if err := lib.DownTo(ctx, 19); err != nil {
		t.Fatal(err)
	}
	var old []struct {
		Recipient string
		Seq       int64
	}
	if err := db.Raw(`SELECT recipient, seq FROM notification_heads ORDER BY recipient`).Scan(&old).Error; err != nil {
		t.Fatal(err)
	}
	if len(old) != 2 || old[0].Recipient != "8" || old[0].Seq != 6 || old[1].Recipient != "9" || old[1].Seq != 3 {
		t.Errorf("heads after down = %+v, want 8=6 and 9=3", old)
	}
	if err := lib.Up(ctx); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
