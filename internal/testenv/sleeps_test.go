package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// maxTestSleeps is how many calls of package time's Sleep the
// repository's tests may hold. Tests wait on a condition with Eventually or Poll; what is left
// sleeps on purpose (a load's pace, an outage's or a slow server's
// duration, a window in which nothing must happen), each saying why.
const maxTestSleeps = 12

// TestSleepsInTestsAreFewAndExplained counts the Sleep calls (package
// time) of every _test.go file in the repository (examples and bench included) and wants
// at most maxTestSleeps, each with a comment `// sleep: <reason>` on its
// line or the line before.
func TestSleepsInTestsAreFewAndExplained(t *testing.T) {
	root := filepath.Join("..", "..")
	var sleeps []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, call := range timeSleeps(f) {
			line := fset.Position(call.Pos()).Line
			where := rel + ":" + strconv.Itoa(line)
			sleeps = append(sleeps, where)
			if !commentNear(fset, f, line) {
				t.Errorf("%s: a Sleep without a comment giving its reason (// sleep: <reason>); if it waits for a condition, use testenv.Eventually", where)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sleeps) > maxTestSleeps {
		t.Errorf("%d Sleep calls in tests, at most %d: wait on a condition with testenv.Eventually instead:\n%s",
			len(sleeps), maxTestSleeps, strings.Join(sleeps, "\n"))
	}
	t.Logf("%d Sleep calls in tests (at most %d)", len(sleeps), maxTestSleeps)
}

// timeSleeps is f's calls of Sleep from package time, under whatever name
// f imports it.
func timeSleeps(f *ast.File) []*ast.CallExpr {
	name := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time"` {
			name = "time"
			if imp.Name != nil {
				name = imp.Name.Name
			}
		}
	}
	if name == "" {
		return nil
	}
	var calls []*ast.CallExpr
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sleep" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
				calls = append(calls, call)
			}
		}
		return true
	})
	return calls
}

// commentNear reports whether a `sleep: <reason>` comment ends on line or
// on the line before it.
func commentNear(fset *token.FileSet, f *ast.File, line int) bool {
	for _, g := range f.Comments {
		for _, c := range g.List {
			l := fset.Position(c.End()).Line
			reason, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(c.Text, "//")), "sleep:")
			if (l == line || l == line-1) && ok && strings.TrimSpace(reason) != "" {
				return true
			}
		}
	}
	return false
}
