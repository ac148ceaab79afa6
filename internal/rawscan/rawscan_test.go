package rawscan_test

import (
	"context"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/rawscan"
)

// explaining counts the statements rendered with their values.
type explaining struct {
	gorm.Dialector
	rendered *int
}

func (e explaining) Explain(sql string, vars ...any) string {
	*e.rendered++
	return e.Dialector.Explain(sql, vars...)
}

// All reads what Scan reads (structs, scalars, no row at all) and renders
// no statement's text for a trace recorder.
func TestAllReadsAsScanDoes(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_rawscan")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID   int64
		Name string
	}
	q := func(db *gorm.DB) *gorm.DB {
		return db.WithContext(ctx).Raw(`SELECT i AS id, 'n' || i AS name FROM generate_series(1, ?) i ORDER BY i`, 3)
	}
	var want, got []row
	if err := q(db).Scan(&want).Error; err != nil {
		t.Fatal(err)
	}
	if err := rawscan.All(q(db), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(want) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Errorf("All = %+v, Scan = %+v", got, want)
	}
	var n int64
	if err := rawscan.All(db.Raw(`SELECT 41 + 1`), &n); err != nil || n != 42 {
		t.Errorf("scalar: %d, %v; want 42", n, err)
	}
	none := []row{{ID: 7}}
	if err := rawscan.All(db.Raw(`SELECT 1 AS id, 'x' AS name WHERE false`), &none); err != nil || len(none) != 1 || none[0].ID != 7 {
		t.Errorf("no row: %+v, %v; want the destination untouched", none, err)
	}
	if err := rawscan.All(db.Raw(`SELECT nope`), &n); err == nil {
		t.Error("a failing statement: no error")
	}

	// Scan renders its statement for its trace recorder even when the
	// logger is silent; All does not.
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	var rendered int
	counted, err := gorm.Open(explaining{Dialector: postgres.New(postgres.Config{Conn: sqlDB}), rendered: &rendered}, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q(counted).Scan(&want).Error; err != nil || rendered != 1 {
		t.Fatalf("Scan: %v, rendered %d; want 1 (the cost All avoids)", err, rendered)
	}
	if err := rawscan.All(q(counted), &got); err != nil {
		t.Fatal(err)
	}
	if rendered != 1 {
		t.Errorf("All rendered its statement with its values (%d renderings in all, want Scan's 1)", rendered)
	}
}
