package zab

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The ZAB core is a pure state machine (doc.go, DESIGN.md §4): no
// goroutines, no clock, no network, no disk, no global randomness. These
// tests hold every non-test file of this package (not zabsim) to it.

// pureImports is what a non-test file of core/zab may import: standard
// library packages that do no I/O, keep no time and start no concurrency,
// plus go-hclog. Some come with calls that are still forbidden
// (forbiddenCalls). Anything else, e.g. os, net, time, sync, sync/atomic,
// unsafe, runtime, crypto/rand or math/rand/v2, fails the test.
var pureImports = map[string]bool{
	"bytes":           true,
	"cmp":             true,
	"encoding/binary": true,
	"errors":          true,
	"fmt":             true, // formatting only: no Print/Scan
	"io":              true, // interfaces only: no calls
	"maps":            true,
	"math":            true,
	"math/bits":       true,
	"math/rand":       true, // the injected *rand.Rand type only: no calls
	"slices":          true,
	"sort":            true,
	"strings":         true,

	"github.com/hashicorp/go-hclog": true, // the injected Logger; no global or stderr logger
}

// forbiddenCalls: per allowed import path, the package-level functions a
// non-test file must not call ("*": none at all).
var forbiddenCalls = map[string][]string{
	"fmt":                           {"Print", "Printf", "Println", "Scan", "Scanf", "Scanln"},
	"io":                            {"*"},
	"math/rand":                     {"*"}, // rand.Intn & co are the global source; rand.New/NewSource belong to the driver
	"time":                          {"Now", "Sleep", "Since", "Until", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"},
	"github.com/hashicorp/go-hclog": {"Default", "L", "SetDefault", "New", "NewInterceptLogger"},
}

// checkPurity returns the violations in one parsed file, each as
// "file:line: what".
func checkPurity(fset *token.FileSet, f *ast.File) []string {
	var out []string
	report := func(pos token.Pos, format string, args ...any) {
		p := fset.Position(pos)
		out = append(out, fmt.Sprintf("%s:%d: %s", filepath.Base(p.Filename), p.Line, fmt.Sprintf(format, args...)))
	}
	// Local package names: the import's name, or its path's last element
	// (without a /vN suffix; go-hclog's package is hclog).
	local := map[string]string{}
	for _, im := range f.Imports {
		path, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			report(im.Pos(), "bad import %s", im.Path.Value)
			continue
		}
		if !pureImports[path] {
			report(im.Pos(), "imports %q, which is not on the pure allow-list (no I/O, time, concurrency or global randomness)", path)
		}
		elems := strings.Split(path, "/")
		name := elems[len(elems)-1]
		if len(elems) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
			name = elems[len(elems)-2]
		}
		name = strings.TrimPrefix(name, "go-")
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == "." {
			report(im.Pos(), "dot-imports %q: its calls cannot be checked", path)
			continue
		}
		local[name] = path
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), "go statement: the core starts no goroutines")
		case *ast.SelectStmt:
			report(n.Pos(), "select statement: the core uses no channels")
		case *ast.ChanType:
			report(n.Pos(), "channel type: the core uses no channels")
		case *ast.SendStmt:
			report(n.Pos(), "channel send: the core uses no channels")
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				report(n.Pos(), "channel receive: the core uses no channels")
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				break
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok || id.Obj != nil { // Obj is set for local names, not packages
				break
			}
			path, ok := local[id.Name]
			if !ok {
				break
			}
			if bad := forbiddenCalls[path]; slices.Contains(bad, "*") || slices.Contains(bad, sel.Sel.Name) {
				report(n.Pos(), "calls %s.%s (%q): forbidden in the core", id.Name, sel.Sel.Name, path)
			}
		}
		return true
	})
	return out
}

// checkPurityDir parses every non-test .go file of dir (not its
// sub-directories) and returns all violations.
func checkPurityDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	n := 0
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		n++
		out = append(out, checkPurity(fset, f)...)
	}
	if n == 0 {
		return nil, fmt.Errorf("no non-test Go files in %s", dir)
	}
	return out, nil
}

// TestCorePurity: the package's own files.
func TestCorePurity(t *testing.T) {
	bad, err := checkPurityDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestCorePurityChecker proves the checker fails on each forbidden thing.
func TestCorePurityChecker(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"os", `import "os"; func f() { _ = os.Args }`, `imports "os"`},
		{"net", `import "net"; var _ net.Conn`, `imports "net"`},
		{"net/http", `import "net/http"; var _ http.Handler`, `imports "net/http"`},
		{"os/exec", `import "os/exec"; var _ = exec.Command`, `imports "os/exec"`},
		{"syscall", `import "syscall"; var _ = syscall.Getpid`, `imports "syscall"`},
		{"time", `import "time"; var _ time.Duration`, `imports "time"`},
		{"time.Now", `import "time"; func f() { _ = time.Now() }`, `calls time.Now`},
		{"time.Sleep", `import "time"; func f() { time.Sleep(1) }`, `calls time.Sleep`},
		{"sync", `import "sync"; var _ sync.Mutex`, `imports "sync"`},
		{"sync/atomic", `import "sync/atomic"; var _ atomic.Int64`, `imports "sync/atomic"`},
		{"crypto/rand", `import "crypto/rand"; var _ = rand.Read`, `imports "crypto/rand"`},
		{"math/rand/v2", `import "math/rand/v2"; var _ = rand.N[int]`, `imports "math/rand/v2"`},
		{"unsafe", `import "unsafe"; var _ = unsafe.Sizeof(1)`, `imports "unsafe"`},
		{"runtime", `import "runtime"; var _ = runtime.NumCPU`, `imports "runtime"`},
		{"zoogate", `import "github.com/zoogate/zoogate/storage"; var _ storage.Log`, `imports "github.com/zoogate/zoogate/storage"`},
		{"rand.Intn", `import "math/rand"; func f() int { return rand.Intn(3) }`, `calls rand.Intn`},
		{"rand.Seed", `import "math/rand"; func f() { rand.Seed(1) }`, `calls rand.Seed`},
		{"rand.New", `import "math/rand"; var r = rand.New(rand.NewSource(1))`, `calls rand.New `},
		{"rand.NewSource", `import "math/rand"; var r = rand.New(rand.NewSource(1))`, `calls rand.NewSource`},
		{"renamed rand", `import mr "math/rand"; func f() int { return mr.Int() }`, `calls mr.Int`},
		{"fmt.Println", `import "fmt"; func f() { fmt.Println("x") }`, `calls fmt.Println`},
		{"io.ReadAll", `import "io"; func f(r io.Reader) { io.ReadAll(r) }`, `calls io.ReadAll`},
		{"hclog.Default", `import "github.com/hashicorp/go-hclog"; var l = hclog.Default()`, `calls hclog.Default`},
		{"dot import", `import . "strings"; var _ = ToUpper("x")`, `dot-imports "strings"`},
		{"go", `func f() { go f() }`, `go statement`},
		{"chan", `var c chan int`, `channel type`},
		{"select", `func f() { select {} }`, `select statement`},
		{"send", `func f(c chan int) { c <- 1 }`, `channel send`},
		{"receive", `func f(c chan int) { <-c }`, `channel receive`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := checkSource(t, "package zab\n"+c.src+"\n")
			if !slices.ContainsFunc(bad, func(b string) bool { return strings.Contains(b, c.want) }) {
				t.Errorf("want a violation containing %q, got %q", c.want, bad)
			}
		})
	}
	// What the core does today passes: the injected *rand.Rand and Logger,
	// a method named like a forbidden function on a local value, io types.
	good := `package zab
import (
	"fmt"
	"io"
	"math/rand"
	"github.com/hashicorp/go-hclog"
)
type cfg struct { r *rand.Rand; l hclog.Logger; b io.ReadCloser }
func (c cfg) f() string {
	rand := c.r
	_ = rand.Intn(3)
	c.l = hclog.NewNullLogger()
	return fmt.Sprintf("%d", c.r.Intn(2))
}
`
	if bad := checkSource(t, good); len(bad) > 0 {
		t.Errorf("pure source flagged: %q", bad)
	}
}

// TestCorePurityDir proves the directory scan catches a bad file added
// next to the real ones (in a copy, never in the tree).
func TestCorePurityDir(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if bad, err := checkPurityDir(dir); err != nil || len(bad) > 0 {
		t.Fatalf("copy of the package: %v %q", err, bad)
	}
	src := "package zab\n\nimport \"os\"\n\nfunc hostname() string { h, _ := os.Hostname(); return h }\n"
	if err := os.WriteFile(filepath.Join(dir, "zz_bad.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// A test file may import anything.
	if err := os.WriteFile(filepath.Join(dir, "zz_bad_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := checkPurityDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !strings.Contains(bad[0], `zz_bad.go:3: imports "os"`) {
		t.Fatalf("want exactly zz_bad.go's import of os, got %q", bad)
	}
}

func checkSource(t *testing.T, src string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "src.go", src, 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return checkPurity(fset, f)
}
