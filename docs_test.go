package tidings_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tidingsdev/tidings/internal/apptest"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// A snippet is one piece of Go in the docs: a ```go block of README.md or
// an indented block of a doc.go's package comment.
type snippet struct {
	where string // "README.md:43", "inbox/doc.go block 2"
	src   string
}

// notGo are the doc blocks that are not Go (shell lines, diagrams,
// tables, YAML, JSON, error texts), by their first line: each one is
// listed, so a Go block that stops compiling fails instead of being
// skipped.
var notGo = map[string]bool{
	"figure | ours | baseline | ratio | target | ok":                                                        true,
	"go run ./cmd/bench                                  # the issue's sizes, about 2.5 minutes on 2 cores": true,
	"RecordEvent ── one statement: event row + activity_outbox row (no per-event NOTIFY)":                   true,
	"go test ./internal/crosstenant/":                                                                       true,
	"cd cmd/bench/river && go run .":                                                                        true,
	"cd cmd/bench/river && go run .                     # about 13 minutes on 2 cores":                      true,
	"go test -tags tidings_rlsonly ./internal/crosstenant/ ./activity/":                                     true,
	"tidings_events_recorded_total{domain,action,result}   counter: result inserted | throttled | failed;":  true,
	"groups:": true,
	"GET    /                 ?after=&limit=&unread=1&archived=1 -> ListResponse":                                      true,
	"event: notification   id: <Seq>   data: Item":                                                                     true,
	"Name               Give the rule a name.":                                                                         true,
	`triggered_on: unknown action "coment_added" of domain issue (did you mean "comment_added"?); expected one of ...`: true,
	`{"attribute": "subject.created_at", "operator": "lt", "value": "2022-01-01"}`:                                     true,
	"eq, ne                  any kind; times compare as instants":                                                      true,
	`conditions[1].operator: unknown operator "greater"; expected one of eq, ne, lt, ...`:                              true,
	"conditions[0]: subject.created_at (2023-05-01) is not lt 2022-01-01":                                              true,
	"/tidings/notifications   the notification center: JSON API and live stream (with InApp)":                          true,
}

// readmeSnippets returns README.md's ```go blocks.
func readmeSnippets(t *testing.T) []snippet {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur *strings.Builder
	start := 0
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(l) == "```go":
			cur, start = &strings.Builder{}, n+1
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, snippet{where: fmt.Sprintf("README.md:%d", start), src: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(l + "\n")
		}
	}
	return out
}

// docSnippets returns the code blocks of every doc.go's package comment.
func docSnippets(t *testing.T) []snippet {
	var out []snippet
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.Name() != "doc.go" {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil || f.Doc == nil {
			return err
		}
		var p comment.Parser
		n := 0
		for _, b := range p.Parse(f.Doc.Text()).Content {
			if c, ok := b.(*comment.Code); ok {
				n++
				out = append(out, snippet{where: fmt.Sprintf("%s block %d", path, n), src: c.Text})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Placeholders the docs use for "the rest": replaced before parsing.
var placeholders = []struct {
	re *regexp.Regexp
	to string
}{
	{regexp.MustCompile(`\{\s*\.\.\.[^{}\n]*?\.\.\.\s*\}`), "{ panic(0) }"},
	{regexp.MustCompile(`\{\s*\.\.\.\s*\}`), "{ panic(0) }"},
	{regexp.MustCompile(`,\s*\.\.\.\s*\}`), "}"},
	{regexp.MustCompile(`\.\.\.\s*,`), ""},
	{regexp.MustCompile(`,\s*\.\.\.\s*\)`), ")"},
	{regexp.MustCompile(`\(\s*\.\.\.\s*\)`), "()"},
	{regexp.MustCompile(`(?m)^\s*\.\.\.\s*$`), ""},
}

// prelude declares what snippets use without declaring it: the app's
// values the docs assume (a db, a ctx, a domain), by name.
var prelude = map[string]string{
	"ctx":              "var ctx context.Context",
	"db":               "var db *gorm.DB",
	"tx":               "var tx *gorm.DB",
	"gormDB":           "var gormDB *gorm.DB",
	"sqlDB":            "var sqlDB *sql.DB",
	"err":              "var err error",
	"mux":              "var mux *http.ServeMux",
	"r":                "var r *http.Request",
	"w":                "var w http.ResponseWriter",
	"t":                "var t *testing.T",
	"rdb":              "var rdb redis.UniversalClient",
	"redisClient":      "var redisClient redis.UniversalClient",
	"redisOpt":         "var redisOpt asynq.RedisConnOpt",
	"redis":            "var redis asynq.RedisConnOpt",
	"scheduler":        "var scheduler *asynq.Scheduler",
	"Issues":           "var Issues *activity.Domain",
	"issues":           "var issues *activity.Domain",
	"orders":           "var orders *activity.Domain",
	"domains":          "var domains []*activity.Domain",
	"issue":            "var issue *Issue",
	"comment":          "var comment Comment",
	"user":             "var user *User",
	"bo":               "var bo *User",
	"u":                "var u struct{ Name, Email, SlackID string }",
	"n":                "var n int",
	"id":               "var id int64",
	"res":              "var res activity.Result",
	"event":            "var event activity.Event",
	"cursor":           "var cursor activity.Cursor",
	"actions":          "var actions []string",
	"day":              "const day = 24 * time.Hour",
	"notifications":    "var notifications inbox.Inbox",
	"mailer":           "var mailer inbox.Inbox",
	"audit":            "var audit inbox.Inbox",
	"inboxes":          "var inboxes []inbox.Inbox",
	"defaults":         "var defaults *inbox.Defaults",
	"rules":            "var rules *workflow.Rules",
	"store":            "var store *workflow.Rules",
	"schema":           "var schema *workflow.Schema",
	"job":              "var job *retention.Job",
	"px":               "var px *privacy.Privacy",
	"usersPart":        "var usersPart privacy.Part",
	"builder":          "var builder *email.Builder",
	"sender":           "var sender *email.Sender",
	"token":            "var token string",
	"secret":           "var secret string",
	"keys":             "var keys map[string][]byte",
	"router":           "var router *slackinbox.Router",
	"cat":              "var cat *locale.Catalog",
	"catalog":          "var catalog *locale.Catalog",
	"topics":           "var topics []preferences.Topic",
	"handler":          "var handler http.Handler",
	"appLayout":        "var appLayout web.Layout",
	"identify":         "var identify web.IdentityFunc",
	"isAdmin":          "var isAdmin func(*http.Request) bool",
	"userKey":          "var userKey func(*http.Request) (string, bool)",
	"me":               "var me func(*http.Request) (activity.Person, string, error)",
	"currentUser":      "var currentUser func(*http.Request) *User",
	"watchersOf":       "var watchersOf func(context.Context, *gorm.DB, string) ([]email.Recipient, error)",
	"tp":               "var tp interface{ Shutdown(context.Context) error }",
	"User":             "type User struct{ ID int64; Name, Email string }",
	"Issue":            "type Issue struct{ ID int64; Title string }",
	"Comment":          "type Comment struct{ ID int64; Body string }",
	"AuditEntry":       "type AuditEntry struct{ ID, EventID int64; Who string }",
	"smtp":             "var smtp workflow.EmailSender",
	"issueSchema":      "var issueSchema *workflow.Schema",
	"replyWithComment": "var replyWithComment func(context.Context, workflow.ActionContext) (workflow.Result, error)",
}

// preludeIn overrides prelude names in one file, where its snippets use
// a name otherwise.
var preludeIn = map[string]map[string]string{
	"inbox/locale/doc.go":     {"issue": "var issue *activity.Domain"},
	"inbox/notify/doc.go":     {"page": "var page notify.Page"},
	"inbox/webhook/doc.go":    {"keys": "var keys *webhook.Keyring"},
	"inbox/chat/doc.go":       {"acmeDiscordURL": "var acmeDiscordURL string", "globexDiscordURL": "var globexDiscordURL string"},
	"inbox/chat/teams/doc.go": {"acmeWorkflowURL": "var acmeWorkflowURL string"},
	"inbox/sms/vonage/doc.go": {"key": "var key string", "sigSecret": "var sigSecret string"},
	"internal/rawscan/doc.go": {"x": "var x int"},
	"inbox/device/doc.go": {
		"sub":      "var sub struct{ Endpoint string; Keys struct{ P256dh, Auth string } }",
		"endpoint": "var endpoint string",
	},
	"workflow/doc.go block 9": {"rules": "var rules []struct{ Matcher *workflow.Matcher }", "log": "var log func(any, bool, string)"},
}

// packages maps the names snippets use as qualifiers to import paths.
var packages = map[string]string{
	"context": "context", "errors": "errors", "fmt": "fmt", "http": "net/http", "io": "io", "log": "log",
	"os": "os", "slog": "log/slog", "sql": "database/sql", "strconv": "strconv", "strings": "strings",
	"time": "time", "template": "html/template", "json": "encoding/json", "signal": "os/signal", "syscall": "syscall",
	"gorm": "gorm.io/gorm", "postgres": "gorm.io/driver/postgres", "asynq": "github.com/hibiken/asynq",
	"redis": "github.com/redis/go-redis/v9", "prometheus": "github.com/prometheus/client_golang/prometheus",
	"promhttp": "github.com/prometheus/client_golang/prometheus/promhttp",
	"tidings":  "github.com/tidingsdev/tidings",
	"testing":  "testing", "slack": "github.com/slack-go/slack",
}

// modulePackages adds the module's own packages by their names.
func modulePackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Name}} {{.ImportPath}}", "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, _ := strings.Cut(l, " ")
		if name == "main" || strings.Contains(path, "/internal/") {
			continue
		}
		if _, ok := packages[name]; !ok {
			packages[name] = path
		}
	}
	packages["slackinbox"] = "github.com/tidingsdev/tidings/inbox/slack"
	packages["rawscan"] = "github.com/tidingsdev/tidings/internal/rawscan" // internal: its doc.go's block only
}

// exportImporter imports packages from the build cache's export data
// (go list -export), which is what the compiler reads.
type exportImporter struct {
	mu      sync.Mutex
	fset    *token.FileSet
	exports map[string]string
	imp     types.Importer
}

func newExportImporter(t *testing.T, fset *token.FileSet) *exportImporter {
	paths := make([]string, 0, len(packages))
	for _, p := range packages {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}"}, paths...)
	var stderr bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export (the packages the docs use must build): %v\n%s", err, stderr.String())
	}
	e := &exportImporter{fset: fset, exports: map[string]string{}}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(l, " ")
		e.exports[path] = file
	}
	e.imp = importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := e.exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	return e
}

func (e *exportImporter) Import(path string) (*types.Package, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.imp.Import(path)
}

var (
	undefinedRE    = regexp.MustCompile(`undefined: (\w+)$`)
	notSelectorRE  = regexp.MustCompile(`use of package (\w+) not in selector`)
	undefinedSelRE = regexp.MustCompile(`undefined: (\w+)\.\w+$`)
)

// splitDecls splits a snippet mixing declarations and statements: the
// functions and types written at the start of a line (to the closing
// brace at the start of a line) are declarations, the rest statements.
func splitDecls(src string) (decls, stmts string) {
	var d, s strings.Builder
	in := false
	for _, l := range strings.SplitAfter(src, "\n") {
		switch {
		case in:
			d.WriteString(l)
			if strings.TrimRight(l, "\n") == "}" || strings.TrimRight(l, "\n") == ")" {
				in = false
			}
		case strings.HasPrefix(l, "func ") || strings.HasPrefix(l, "type "):
			d.WriteString(l)
			t := strings.TrimSpace(l)
			in = strings.HasSuffix(t, "{") || strings.HasSuffix(t, "(")
		default:
			s.WriteString(l)
		}
	}
	return d.String(), s.String()
}

// compile type-checks one snippet: as a whole file when it has a package
// clause, else as declarations, else as the statements of a function,
// adding the imports and prelude declarations it needs. It returns the
// file it checked and the hard errors.
func compile(imp types.Importer, s snippet) (string, []string) {
	file, _, _ := strings.Cut(s.where, " block")
	file, _, _ = strings.Cut(file, ":")
	declOf := func(name string) (string, bool) {
		if d, ok := preludeIn[s.where][name]; ok {
			return d, true
		}
		if d, ok := preludeIn[file][name]; ok {
			return d, true
		}
		d, ok := prelude[name]
		return d, ok
	}
	src := s.src
	for _, p := range placeholders {
		src = p.re.ReplaceAllString(src, p.to)
	}
	var forms []func(extra string) string
	if strings.HasPrefix(strings.TrimSpace(src), "package ") {
		forms = append(forms, func(extra string) string {
			pkgLine, rest, _ := strings.Cut(src, "\n")
			return pkgLine + "\n" + extra + "\n" + rest
		})
	} else {
		decls, stmts := splitDecls(src)
		forms = append(forms,
			func(extra string) string { return "package snippet\n" + extra + "\n" + src },
			func(extra string) string { return "package snippet\n" + extra + "\nfunc _() {\n" + src + "\n}\n" },
			func(extra string) string {
				return "package snippet\n" + extra + "\n" + decls + "\nfunc _() {\n" + stmts + "\n}\n"
			})
	}
	var lastErrs []string
	var last string
	for _, form := range forms {
		fset := token.NewFileSet()
		if _, err := parser.ParseFile(fset, "snippet.go", form(""), parser.SkipObjectResolution); err != nil {
			lastErrs, last = []string{err.Error()}, form("")
			continue
		}
		imports, decls := map[string]bool{}, map[string]bool{}
		for range 20 { // each round adds what the previous lacked
			extra := extraSource(imports, decls, declOf)
			text := form(extra)
			f, err := parser.ParseFile(fset, "snippet.go", text, parser.SkipObjectResolution)
			if err != nil {
				return text, []string{err.Error()}
			}
			var hard []string
			added := false
			conf := types.Config{Importer: imp, Error: func(err error) {
				te := err.(types.Error)
				if te.Soft { // declared and not used, imported and not used
					return
				}
				m := notSelectorRE.FindStringSubmatch(te.Msg)
				if m == nil {
					m = undefinedSelRE.FindStringSubmatch(te.Msg) // rules.Ensure: a value, not the package
				}
				if m != nil && imports[m[1]] {
					// a value named like a package ("rules", "redis")
					if _, ok := declOf(m[1]); ok {
						delete(imports, m[1])
						decls[m[1]], added = true, true
						return
					}
				}
				if m := undefinedRE.FindStringSubmatch(te.Msg); m != nil {
					name := m[1]
					if imports[name] || decls[name] {
						return // reported once per use; added on its first
					}
					if _, ok := packages[name]; ok {
						imports[name], added = true, true
						return
					}
					if _, ok := declOf(name); ok && !decls[name] {
						decls[name], added = true, true
						return
					}
				}
				hard = append(hard, te.Error())
			}}
			_, _ = conf.Check("snippet", fset, []*ast.File{f}, nil)
			if added {
				continue
			}
			return text, hard
		}
	}
	return last, lastErrs
}

// extraSource is the import block and prelude declarations for a
// snippet, with the prelude's own imports.
func extraSource(imports, decls map[string]bool, declOf func(string) (string, bool)) string {
	var b strings.Builder
	need := map[string]bool{}
	for n := range imports {
		need[n] = true
	}
	names := make([]string, 0, len(decls))
	for n := range decls {
		names = append(names, n)
		d, _ := declOf(n)
		for q := range packages {
			if strings.Contains(d, q+".") && !decls[q] {
				need[q] = true
			}
		}
	}
	sort.Strings(names)
	written := map[string]bool{}
	for q := range need {
		if written[packages[q]] {
			continue
		}
		written[packages[q]] = true
		if q == packages[q] || strings.HasSuffix(packages[q], "/"+q) {
			fmt.Fprintf(&b, "import %q\n", packages[q])
		} else {
			fmt.Fprintf(&b, "import %s %q\n", q, packages[q])
		}
	}
	for _, n := range names {
		d, _ := declOf(n)
		fmt.Fprintf(&b, "%s\n", d)
	}
	return b.String()
}

// Every Go block of README.md and every code block of a doc.go's package
// comment compiles (type-checks against the module's packages), with
// its imports added and the values it assumes (a db, a ctx) declared.
// A block that uses a value of the app's the docs have not used before
// ("undefined: x") gets its name in prelude (or preludeIn, for a file or
// block that uses it otherwise); a block that is not Go gets its first
// line in notGo.
func TestDocsCompile(t *testing.T) {
	modulePackages(t)
	fset := token.NewFileSet()
	imp := newExportImporter(t, fset)
	snippets := append(readmeSnippets(t), docSnippets(t)...)
	if len(snippets) < 40 {
		t.Fatalf("found %d snippets: the extraction is broken", len(snippets))
	}
	for _, s := range snippets {
		first, _, _ := strings.Cut(strings.TrimSpace(s.src), "\n")
		if notGo[first] {
			continue
		}
		text, errs := compile(imp, s)
		if len(errs) > 0 {
			if os.Getenv("TIDINGS_DOCS_DUMP") != "" {
				fmt.Printf("=== %s (first line %q)\n%s\n=== errors\n%s\n\n", s.where, first, s.src, strings.Join(errs, "\n"))
			}
			t.Errorf("%s does not compile:\n  %s\n--- as checked:\n%s", s.where, strings.Join(errs, "\n  "), text)
		}
	}
}

// The README's quick start, with the imports goimports would add, builds
// and runs: a shipped order is in its feed and reaches its owner's open
// notification stream through the worker, and SIGTERM stops it cleanly.
func TestQuickStart(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Quick start")
	if !ok {
		t.Fatal("README.md has no Quick start section")
	}
	_, block, _ := strings.Cut(after, "```go\n")
	block, _, _ = strings.Cut(block, "```")
	if n := strings.Count(block, "\n"); n > 25 {
		t.Errorf("the quick start is %d lines, want at most 25", n)
	}
	modulePackages(t)
	imp := newExportImporter(t, token.NewFileSet())
	text, errs := compile(imp, snippet{where: "README.md quick start", src: block})
	if len(errs) > 0 {
		t.Fatalf("the quick start does not compile:\n%s\n%s", strings.Join(errs, "\n"), text)
	}
	dir, err := os.MkdirTemp(".", "_quickstart") // in the module, ignored by ./...
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src, err := format.Source([]byte(strings.Replace(text, "package snippet", "package main", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := apptest.Build(t, "./"+dir)

	ctx := context.Background()
	qdb, err := pgtest.Create(ctx, "tidings_test_quickstart", `CREATE TABLE orders (id bigint PRIMARY KEY, owner_id bigint NOT NULL);
INSERT INTO orders VALUES (1, 7)`)
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := qdb.DB(); err == nil {
		defer sqlDB.Close()
	}
	r := redistest.NewPrivate(t)
	addr := apptest.FreeAddr(t)
	p := apptest.Start(t, bin, "DATABASE_URL="+pgtest.DSN("tidings_test_quickstart"), "REDIS_URL="+r.Addr(), "ADDR="+addr)
	p.Wait("tidings: serving")
	base := "http://" + addr
	owner, shipper := apptest.Header("X-User", "7"), apptest.Header("X-User", "8")
	stream := apptest.Stream(t, base+"/tidings/notifications/stream", owner)
	apptest.Next(t, stream, "counts")
	if code, body := apptest.Do(t, "POST", base+"/orders/1/ship", shipper); code != 200 {
		t.Fatalf("ship: %d %s", code, body)
	}
	apptest.Next(t, stream, "notification")
	if code, body := apptest.Do(t, "GET", base+"/orders/1"); code != 200 || !strings.Contains(body, "users:8 shipped") && !strings.Contains(body, "shipped") {
		t.Errorf("the order's feed: %d %q", code, body)
	}
	out, err := p.Stop()
	if err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") {
			t.Errorf("the quick start logged: %s", l)
		}
	}
}
