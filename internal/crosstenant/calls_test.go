package crosstenant_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// modulePath is the module whose packages tenantCalls scans.
const modulePath = "github.com/tidingsdev/tidings"

// execNames are the methods that run SQL: gorm's, database/sql's and
// pgx's, called on something not of the scanned package. A call of one of
// them, or of a function of execPackages, is a statement.
var execNames = map[string]bool{
	"Raw": true, "Exec": true, "Rows": true, "Row": true, "Scan": true, "Find": true, "First": true, "Take": true,
	"Create": true, "Save": true, "Delete": true, "Update": true, "Updates": true, "UpdateColumn": true, "UpdateColumns": true,
	"Pluck": true, "FirstOrCreate": true, "ExecContext": true, "QueryContext": true, "QueryRowContext": true,
	"Query": true, "QueryRow": true, "CopyFrom": true, "SendBatch": true,
}

// execPackages are the module's internal packages that run the statements
// their callers give them.
var execPackages = map[string]bool{modulePath + "/internal/prune": true, modulePath + "/internal/erasesql": true}

// sqlWord is a keyword of a statement, as the library writes them.
var sqlWord = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN|INTO|USING|TABLE)\b`)

// namesTable reports whether s names a tenant table: it is a table's name
// (a gorm Table, a prune's table), or a statement that names one; an
// error message that says "notifications" is neither.
func namesTable(tableRE *regexp.Regexp, s string) bool {
	if !tableRE.MatchString(s) {
		return false
	}
	return tableRE.FindString(s) == strings.TrimSpace(s) || sqlWord.MatchString(s)
}

// tenantCalls parses the non-test sources of every package of the module
// at root (but cmd/, internal/ and the test-support packages named *test)
// and returns every exported function and method that runs SQL on one of
// tables, as "<package path>.<Func>" or "<package path>.<Type>.<Method>"
// ("github.com/tidingsdev/tidings/workflow.Rules.PruneRuns"), each with
// where it, or a function of its package it calls, names the table.
//
// A function counts when, with every function and method of its package
// it calls or refers to (resolved by go/types within the package; a call
// through an interface of the package counts for each method of that
// name), it both names a tenant table and runs a statement. A table is
// named by a string that contains its name, a constant (of any package of
// the module) that holds one, a gorm model whose TableName is one, and a
// domain's events table by activity's Domain.table and prepared statements
// (Domain.sql) or another package's Domain.Table().
func tenantCalls(root string, tables []string) (map[string]string, error) {
	tableRE := regexp.MustCompile(`\b(` + strings.Join(tables, "|") + `)\b`)
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		base := d.Name()
		if rel != "." && (strings.HasPrefix(base, ".") || base == "testdata" || rel == "cmd" || rel == "internal" || strings.HasSuffix(base, "test")) {
			return filepath.SkipDir
		}
		dirs = append(dirs, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pkgs []*scanned
	consts := map[string]bool{} // "<package path>.<Name>" of exported constants naming a tenant table
	for _, dir := range dirs {
		p, err := parsePackage(root, dir, tableRE, consts)
		if err != nil {
			return nil, err
		}
		if p != nil {
			pkgs = append(pkgs, p)
		}
	}
	out := map[string]string{}
	for _, p := range pkgs {
		p.calls(tableRE, consts, out)
	}
	return out, nil
}

// scanned is one parsed package.
type scanned struct {
	root, path string
	fset       *token.FileSet
	files      []*ast.File
	tableConst map[string]bool // its constants that name a tenant table
}

func parsePackage(root, dir string, tableRE *regexp.Regexp, consts map[string]bool) (*scanned, error) {
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	p := &scanned{root: root, path: path.Join(modulePath, filepath.ToSlash(dir)), fset: token.NewFileSet(), tableConst: map[string]bool{}}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(p.fset, filepath.Join(root, dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, f)
	}
	if len(p.files) == 0 {
		return nil, nil
	}
	for _, f := range p.files {
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING || i >= len(vs.Names) {
						continue
					}
					if s, err := strconv.Unquote(lit.Value); err == nil && namesTable(tableRE, s) {
						p.tableConst[vs.Names[i].Name] = true
						consts[p.path+"."+vs.Names[i].Name] = true
					}
				}
			}
		}
	}
	return p, nil
}

// scanFunc is what the scan learns of one function or method.
type scanFunc struct {
	name     string // "Rules.PruneRuns", "Prune"
	exported bool   // callable from outside the package
	mention  string // where it names a tenant table, "" if nowhere
	exec     bool   // it runs a statement
	calls    []*types.Func
}

// emptyImporter imports every package as an empty one: the scan resolves
// what is declared in the package itself, and nothing else.
type emptyImporter struct{}

func (emptyImporter) Import(p string) (*types.Package, error) {
	name := path.Base(p)
	if strings.HasPrefix(name, "v") && strings.Trim(name[1:], "0123456789") == "" { // ".../pgx/v5"
		name = path.Base(path.Dir(p))
	}
	pkg := types.NewPackage(p, name)
	pkg.MarkComplete()
	return pkg, nil
}

// calls adds the package's exported calls that run SQL on a tenant table
// to out.
func (p *scanned) calls(tableRE *regexp.Regexp, consts map[string]bool, out map[string]string) {
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: emptyImporter{}, Error: func(error) {}} // errors: what the empty imports leave undefined
	pkg, _ := conf.Check(p.path, p.fset, p.files, info)
	pkgName := p.files[0].Name.Name
	importPath := map[string]string{} // per file would be exact; import names are unique enough here
	for _, f := range p.files {
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			name := path.Base(ip)
			if im.Name != nil {
				name = im.Name.Name
			}
			importPath[name] = ip
		}
	}
	// gorm models whose TableName is a tenant table: naming the type
	// names the table.
	models := map[string]bool{}
	for _, f := range p.files {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Name.Name != "TableName" || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && tableRE.MatchString(lit.Value) {
					models[recvType(fd.Recv.List[0].Type)] = true
				}
				return true
			})
		}
	}
	// activity.Domain's events table and its prepared statements.
	domainFields := map[*types.Var]bool{}
	if pkgName == "activity" && pkg != nil {
		if tn, ok := pkg.Scope().Lookup("Domain").(*types.TypeName); ok {
			if st, ok := tn.Type().Underlying().(*types.Struct); ok {
				for i := range st.NumFields() {
					if f := st.Field(i); f.Name() == "table" || f.Name() == "sql" {
						domainFields[f] = true
					}
				}
			}
		}
	}
	funcs := map[*types.Func]*scanFunc{}
	byMethod := map[string][]*types.Func{} // method name -> the package's concrete methods of that name
	var order []*types.Func
	for _, f := range p.files {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			obj, _ := info.Defs[fd.Name].(*types.Func)
			if obj == nil {
				continue
			}
			sf := &scanFunc{name: fd.Name.Name, exported: fd.Name.IsExported()}
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				recv := recvType(fd.Recv.List[0].Type)
				sf.name = recv + "." + fd.Name.Name
				sf.exported = sf.exported && ast.IsExported(recv)
				byMethod[fd.Name.Name] = append(byMethod[fd.Name.Name], obj)
			}
			where := func(pos token.Pos, what string) {
				if sf.mention == "" && fd.Name.Name != "TableName" {
					sf.mention = fmt.Sprintf("%s (%s)", p.position(pos), what)
				}
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BasicLit:
					if x.Kind == token.STRING {
						if s, err := strconv.Unquote(x.Value); err == nil && namesTable(tableRE, s) {
							where(x.Pos(), tableRE.FindString(s))
						}
					}
				case *ast.Ident:
					if p.tableConst[x.Name] || models[x.Name] {
						if o := info.Uses[x]; o != nil && o.Pkg() == pkg {
							where(x.Pos(), x.Name)
						}
					}
					if fn, ok := info.Uses[x].(*types.Func); ok && fn.Pkg() == pkg {
						sf.calls = append(sf.calls, fn)
					}
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && consts[importPath[id.Name]+"."+x.Sel.Name] && info.Uses[id] != nil {
						where(x.Pos(), id.Name+"."+x.Sel.Name)
					}
					if v, ok := info.Uses[x.Sel].(*types.Var); ok && domainFields[v] {
						where(x.Pos(), "a domain's events table")
					}
				case *ast.CallExpr:
					sel, ok := x.Fun.(*ast.SelectorExpr)
					if !ok {
						break
					}
					local, _ := info.Uses[sel.Sel].(*types.Func)
					if local != nil && local.Pkg() == pkg {
						break // a call of the package's own: an edge
					}
					if execNames[sel.Sel.Name] {
						sf.exec = true
					}
					if id, ok := sel.X.(*ast.Ident); ok && execPackages[importPath[id.Name]] {
						sf.exec = true
					}
					if sel.Sel.Name == "Table" && len(x.Args) == 0 && pkgName != "activity" {
						where(x.Pos(), "a domain's events table")
					}
				}
				return true
			})
			funcs[obj] = sf
			order = append(order, obj)
		}
	}
	// A call through one of the package's interfaces reaches each of the
	// package's methods of that name.
	targets := func(fn *types.Func) []*types.Func {
		if _, ok := funcs[fn]; ok {
			return []*types.Func{fn}
		}
		if sig, ok := fn.Type().(*types.Signature); ok && sig.Recv() != nil && types.IsInterface(sig.Recv().Type()) {
			return byMethod[fn.Name()]
		}
		return nil
	}
	// Close over the calls, to a fixed point: a function names a table,
	// or runs a statement, when it or a function it calls does.
	for changed := true; changed; {
		changed = false
		for _, fn := range order {
			sf := funcs[fn]
			for _, c := range sf.calls {
				for _, tg := range targets(c) {
					callee := funcs[tg]
					if sf.mention == "" && callee.mention != "" {
						sf.mention, changed = callee.mention, true
					}
					if !sf.exec && callee.exec {
						sf.exec, changed = true, true
					}
				}
			}
		}
	}
	for _, fn := range order {
		if sf := funcs[fn]; sf.exported && sf.mention != "" && sf.exec {
			out[p.path+"."+sf.name] = sf.mention
		}
	}
}

func recvType(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return recvType(x.X)
	case *ast.IndexExpr:
		return recvType(x.X)
	case *ast.IndexListExpr:
		return recvType(x.X)
	case *ast.Ident:
		return x.Name
	}
	return "?"
}

func (p *scanned) position(pos token.Pos) string {
	at := p.fset.Position(pos)
	rel, err := filepath.Rel(p.root, at.Filename)
	if err != nil {
		rel = at.Filename
	}
	return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), at.Line)
}
