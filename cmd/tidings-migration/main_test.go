package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/migrations"
)

// appMigrations is an app's migrations folder: its categories table, then
// something else.
func appMigrations(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"00001_schema.sql": "-- +goose Up\nCREATE TABLE categories (id bigserial PRIMARY KEY, name text NOT NULL);\n-- +goose Down\nDROP TABLE categories;\n",
		"00007_more.sql":   "-- +goose Up\nCREATE TABLE tags (id bigserial PRIMARY KEY);\n-- +goose Down\nDROP TABLE tags;\n",
		"README.md":        "not a migration",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runTool(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// -subject is required: no guessed plural.
func TestSubjectRequired(t *testing.T) {
	_, _, err := runTool(t, "-domain", "category")
	if err == nil || !strings.Contains(err.Error(), "-subject is required") {
		t.Fatalf("err = %v, want -subject is required", err)
	}
	out, _, err := runTool(t, "-domain", "category", "-subject", "categories")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "categorys") || !strings.Contains(out, "FROM categories WHERE id = p_subject") {
		t.Errorf("the migration does not check subjects in categories:\n%s", out)
	}
	if strings.Contains(out, "REFERENCES") {
		t.Error("the default migration references the subject: deleting one would cascade")
	}
	for _, bad := range [][]string{{"-domain", "category", "-subject", "categories", "-partition", "yearly"}, {"-domain", "category", "-subject", "x; DROP TABLE y"}, {"-domain", "c", "-subject", "cs", "extra"}} {
		if _, _, err := runTool(t, bad...); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The file is numbered after the app's latest migration, so goose applies
// it after the migration creating the subject table; -cascade and
// -partition shape the table.
func TestDirOrdering(t *testing.T) {
	dir := appMigrations(t)
	out, warn, err := runTool(t, "-domain", "category", "-subject", "categories", "-dir", dir, "-partition", "monthly")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "00008_category_events.sql")
	if !strings.Contains(out, path) || warn != "" {
		t.Fatalf("out %q, warnings %q; want %s written and no warning", out, warn, path)
	}
	text, _ := os.ReadFile(path)
	if !strings.Contains(string(text), "PARTITION BY RANGE (occurred_at)") {
		t.Error("-partition monthly made no partitioned table")
	}
	if _, _, err := runTool(t, "-domain", "category", "-subject", "categories", "-dir", dir); err != nil {
		t.Fatal(err) // numbered 00009 now; goose would refuse two tables of one name, so drop it
	}
	os.Remove(filepath.Join(dir, "00009_category_events.sql"))
	if _, warn, _ := runTool(t, "-domain", "product", "-subject", "products", "-dir", t.TempDir()); !strings.Contains(warn, "no migration") {
		t.Errorf("a subject table no migration creates: warnings %q", warn)
	}
	// goose applies the folder in order on a database with the library's
	// migrations: the events table finds its subject table.
	db, p := appGoose(t, "tidings_test_migration_tool", dir)
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("INSERT INTO categories (name) VALUES ('Books'); SELECT * FROM category_events_record_throttled(1, 'a', 'system', 'system', '', NULL, NULL, NULL, '{}', now(), NULL, NULL, NULL, NULL, 0::smallint, NULL, NULL, NULL, NULL, '1 minute', false)").Error; err != nil {
		t.Fatal(err)
	}
}

// The command runs from an app's own module, through go run, as the
// package documentation says.
func TestFromAppModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command in a new module")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	lib, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	goMod := "module example.com/shop\n\ngo 1.26.0\n\nrequire github.com/tidingsdev/tidings v0.0.0\n\nreplace github.com/tidingsdev/tidings => " + lib + "\n"
	if err := os.WriteFile(filepath.Join(app, "go.mod"), []byte(goMod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(lib, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	migrations := appMigrations(t)
	cmd := exec.Command(goBin, "run", "github.com/tidingsdev/tidings/cmd/tidings-migration", "-domain", "category", "-subject", "categories", "-dir", migrations)
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run from the app's module: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(migrations, "00008_category_events.sql")); err != nil {
		t.Fatalf("no migration written: %v\n%s", err, out)
	}
}

// -library-rls writes the row-level security of the library's tenant
// tables as the app's next migration; goose applies it after the
// library's migrations, and rolls it back.
func TestLibraryRLS(t *testing.T) {
	if _, _, err := runTool(t, "-library-rls", "-domain", "category", "-subject", "categories"); err == nil || !strings.Contains(err.Error(), "drop the domain's flags") {
		t.Errorf("-library-rls with a domain: err = %v, want a refusal", err)
	}
	dir := appMigrations(t)
	out, _, err := runTool(t, "-library-rls", "-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "00008_tidings_rls.sql")
	if !strings.Contains(out, path) {
		t.Fatalf("out %q; want %s written", out, path)
	}
	text, _ := os.ReadFile(path)
	if string(text) != migrations.GooseRowLevelSecurity() {
		t.Errorf("%s is not migrations.GooseRowLevelSecurity:\n%s", path, text)
	}
	db, p := appGoose(t, "tidings_test_migration_tool_rls", dir)
	secured := func() (n int) {
		t.Helper()
		if err := db.Raw(`SELECT count(*) FROM pg_class WHERE relrowsecurity AND relforcerowsecurity AND relname = ANY(?)`, pgarray.Text(migrations.TenantTables())).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := secured(); n != len(migrations.TenantTables()) {
		t.Errorf("after up, %d of %d library tables have forced row-level security", n, len(migrations.TenantTables()))
	}
	if _, err := p.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := secured(); n != 0 {
		t.Errorf("after down, %d library tables keep row-level security", n)
	}
}

// appGoose creates the database name and a goose provider applying the
// app's migrations folder dir to it (with its own version table).
func appGoose(t *testing.T, name, dir string) (*gorm.DB, *goose.Provider) {
	t.Helper()
	db, err := pgtest.Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS(dir), goose.WithTableName("app_migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return db, p
}
