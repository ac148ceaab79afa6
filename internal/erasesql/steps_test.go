package erasesql

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Run refuses a nil db and an invalid person before any statement: the
// steps here would panic if run (their db has no connection).
func TestRunRefusesBeforeAnyStatement(t *testing.T) {
	ctx := context.Background()
	steps := []Step{{Table: "t", SQL: "DELETE FROM t"}}
	if _, err := Run(ctx, nil, "pkg", activity.Person{Type: "users", ID: "1"}, steps); !errors.Is(err, activity.ErrNilDB) || err.Error()[:4] != "pkg:" {
		t.Errorf("nil db: err = %v, want activity.ErrNilDB named by the package", err)
	}
	if _, err := Run(ctx, &gorm.DB{}, "pkg", activity.Person{}, steps); err == nil {
		t.Error("a person without type or id: no error")
	}
}
