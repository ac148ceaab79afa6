package jsoncase

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// listed is what `go list -export -deps -json` says of one package.
type listed struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
	Module     *struct{ Path string }
}

// skipped says which of the module's packages emit no library JSON: the
// programs, test helpers and the protocol fakes (they speak Slack's and
// SMTP's formats, not ours).
func skipped(path string) bool {
	for _, part := range []string{"/cmd/", "/example/", "test", "/internal/"} {
		if strings.Contains(path+"/", part) {
			return true
		}
	}
	return false
}

func TestEmittedJSONIsSnakeCase(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-export", "-deps", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	exports := map[string]string{}
	var mine []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Path == "github.com/tidingsdev/tidings" && !skipped(p.ImportPath) {
			mine = append(mine, p)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, os.ErrNotExist
		}
		return os.Open(f)
	})
	var problems []string
	calls := 0
	for _, p := range mine {
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-check %s: %v", p.ImportPath, err)
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 || !emits(info, call) {
					return true
				}
				calls++
				w := walker{seen: map[types.Type]bool{}, at: fset.Position(call.Pos()).String()}
				w.walk(info.TypeOf(call.Args[0]), "")
				problems = append(problems, w.problems...)
				return true
			})
		}
	}
	if calls < 20 {
		t.Fatalf("found only %d calls that emit JSON: the scan is broken", calls)
	}
	sort.Strings(problems)
	for _, p := range slicesCompact(problems) {
		t.Error(p)
	}
}

func slicesCompact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// emits reports whether call is json.Marshal, json.MarshalIndent or
// (*json.Encoder).Encode.
func emits(info *types.Info, call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	fn, ok := info.Uses[sel.Sel].(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "encoding/json" {
		return false
	}
	switch fn.Name() {
	case "Marshal", "MarshalIndent":
		return true
	case "Encode":
		return fn.Type().(*types.Signature).Recv() != nil
	}
	return false
}

type walker struct {
	seen     map[types.Type]bool
	at       string
	problems []string
}

var marshaler = types.NewInterfaceType([]*types.Func{
	types.NewFunc(token.NoPos, nil, "MarshalJSON", types.NewSignatureType(nil, nil, nil, nil,
		types.NewTuple(
			types.NewVar(token.NoPos, nil, "", types.NewSlice(types.Typ[types.Byte])),
			types.NewVar(token.NoPos, nil, "", types.Universe.Lookup("error").Type())), false)),
}, nil).Complete()

var textMarshaler = types.NewInterfaceType([]*types.Func{
	types.NewFunc(token.NoPos, nil, "MarshalText", types.NewSignatureType(nil, nil, nil, nil,
		types.NewTuple(
			types.NewVar(token.NoPos, nil, "", types.NewSlice(types.Typ[types.Byte])),
			types.NewVar(token.NoPos, nil, "", types.Universe.Lookup("error").Type())), false)),
}, nil).Complete()

// custom reports whether t encodes itself.
func custom(t types.Type) bool {
	for _, i := range []*types.Interface{marshaler, textMarshaler} {
		if types.Implements(t, i) || types.Implements(types.NewPointer(t), i) {
			return true
		}
	}
	return false
}

func (w *walker) walk(t types.Type, path string) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	if custom(t) {
		return
	}
	switch u := t.Underlying().(type) {
	case *types.Pointer:
		w.walk(u.Elem(), path)
	case *types.Slice:
		w.walk(u.Elem(), path+"[]")
	case *types.Array:
		w.walk(u.Elem(), path+"[]")
	case *types.Map:
		w.walk(u.Elem(), path+"{}")
	case *types.Struct:
		name := types.TypeString(t, func(p *types.Package) string { return p.Name() })
		if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil && !strings.HasPrefix(n.Obj().Pkg().Path(), "github.com/tidingsdev/tidings") {
			return // another module's shape (time.Time is custom anyway)
		}
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			tag, hasTag := reflect.StructTag(u.Tag(i)).Lookup("json")
			key := strings.Split(tag, ",")[0]
			if key == "-" && tag == "-" {
				continue
			}
			if f.Embedded() && !hasTag {
				w.walk(f.Type(), path)
				continue
			}
			if !f.Exported() {
				continue
			}
			if !snake.MatchString(key) {
				got := key
				if !hasTag || got == "" {
					got = f.Name() + " (no json tag: encoding/json writes the Go name)"
				}
				w.problems = append(w.problems, w.at+": "+name+"."+f.Name()+path+": key "+got+" is not snake_case")
			}
			w.walk(f.Type(), path)
		}
	}
}
