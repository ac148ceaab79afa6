package workflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tidingsdev/tidings/workflow"
)

// Rules kept in code: Ensure twice (and concurrently) leaves one rule;
// the same rule writes nothing; a changed one updates in place.
func TestEnsure(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	r := staleRule()
	r.Key = "stale-issues"
	first, wrote, err := app.rules.Ensure(ctx, "app", r)
	if err != nil || !wrote || first.ID == 0 || first.Key != "stale-issues" || first.Version != 1 {
		t.Fatalf("first Ensure: %+v, wrote %v, %v", first, wrote, err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again, wrote, err := app.rules.Ensure(ctx, "app", r)
			if err != nil || wrote || again.ID != first.ID || again.Version != 1 || !again.UpdatedAt.Equal(first.UpdatedAt) {
				t.Errorf("Ensure of the same rule: %+v, wrote %v, %v; want the stored rule untouched", again, wrote, err)
			}
		}()
	}
	wg.Wait()
	if n := countRows(t, "workflow_rules"); n != 1 {
		t.Fatalf("%d rules after Ensure ran five times, want 1", n)
	}
	r.Name = "Stale issues, v2"
	changed, wrote, err := app.rules.Ensure(ctx, "app", r)
	if err != nil || !wrote || changed.ID != first.ID || changed.Version != 2 || changed.Name != r.Name {
		t.Fatalf("Ensure of a changed rule: %+v, wrote %v, %v", changed, wrote, err)
	}
	if n := countRows(t, "workflow_rules"); n != 1 {
		t.Fatalf("%d rules after a changed Ensure, want 1", n)
	}
	// Create refuses a taken key; Ensure refuses a rule without one.
	if _, err := app.rules.Create(ctx, "app", r); !errors.Is(err, workflow.ErrKeyTaken) {
		t.Errorf("Create with a taken key: %v, want ErrKeyTaken", err)
	}
	r.Key = ""
	if _, _, err := app.rules.Ensure(ctx, "app", r); !errors.Is(err, workflow.ErrInvalidRule) {
		t.Errorf("Ensure without a key: %v, want ErrInvalidRule", err)
	}
	r.Key = "bad\x00key"
	if _, _, err := app.rules.Ensure(ctx, "app", r); !errors.Is(err, workflow.ErrInvalidRule) {
		t.Errorf("Ensure with a NUL in the key: %v, want ErrInvalidRule", err)
	}
}

// Two editors read version 1; the first saves; the second gets a
// conflict naming who saved, and nothing of theirs is written.
func TestEditConflict(t *testing.T) {
	reset(t)
	ctx := context.Background()
	app := newApp(t, appConfig{})
	created, err := app.rules.Create(ctx, "users:1", staleRule())
	if err != nil {
		t.Fatal(err)
	}
	ana, _ := app.rules.Get(ctx, created.ID)
	bo, _ := app.rules.Get(ctx, created.ID)
	ana.Name = "Ana's name"
	saved, err := app.rules.Update(ctx, "users:1", ana)
	if err != nil || saved.Version != 2 {
		t.Fatalf("first editor: %+v, %v", saved, err)
	}
	bo.Name = "Bo's name"
	_, err = app.rules.Update(ctx, "users:2", bo)
	var ce *workflow.ConflictError
	if !errors.Is(err, workflow.ErrConflict) || !errors.As(err, &ce) || ce.Current != 2 || ce.Version != 1 || ce.UpdatedBy != "users:1" {
		t.Fatalf("second editor: %v, want a *ConflictError from version 1 to 2 by users:1", err)
	}
	if got, _ := app.rules.Get(ctx, created.ID); got.Name != "Ana's name" || got.Version != 2 {
		t.Errorf("after the conflict the rule is %q at version %d, want Ana's at 2", got.Name, got.Version)
	}
	// Reloaded, Bo's edit goes through; toggling moves the version on too.
	bo, _ = app.rules.Get(ctx, created.ID)
	bo.Name = "Bo's name"
	if saved, err := app.rules.Update(ctx, "users:2", bo); err != nil || saved.Version != 3 {
		t.Fatalf("after reloading: %+v, %v", saved, err)
	}
	if off, err := app.rules.SetEnabled(ctx, "users:1", created.ID, false); err != nil || off.Version != 4 {
		t.Fatalf("toggle: %+v, %v", off, err)
	}
	if _, err := app.rules.Update(ctx, "users:2", bo); !errors.Is(err, workflow.ErrConflict) {
		t.Errorf("an edit from before a toggle: %v, want ErrConflict", err)
	}
}
