// Package docs holds the project's documentation and a test that keeps it
// honest: every log message, metric and setting the docs quote exists in
// the code, so that an operator who copies one into an alert, a dashboard
// or a ConfigMap gets something real.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// codeStrings is every string literal of the module's non-test Go code,
// with runs of white space made single spaces.
func codeStrings(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out = append(out, squash(s))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// docFiles is docs/*.md and the README, by name.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	names, _ := filepath.Glob("*.md")
	names = append(names, filepath.Join("..", "README.md"))
	out := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

var (
	// A log message is quoted after the word log or logs: log `webhook rejected`.
	logQuote = regexp.MustCompile("\\blogs? `([^`]+)`")
	// ...or in the list of log messages worth an alert.
	alertList = regexp.MustCompile("(?s)Log messages worth an alert[^\n]*\n(?:[^\n]+\n)*")
	backtick  = regexp.MustCompile("`([^`]+)`")
	metric    = regexp.MustCompile(`\bkybflow_[a-z0-9_]+`)
)

func TestDocsQuoteOnlyRealLogMessages(t *testing.T) {
	code := codeStrings(t)
	for name, doc := range docFiles(t) {
		var quoted []string
		for _, m := range logQuote.FindAllStringSubmatch(doc, -1) {
			quoted = append(quoted, m[1])
		}
		for _, para := range alertList.FindAllString(doc, -1) {
			for _, m := range backtick.FindAllStringSubmatch(para, -1) {
				if m[1] != "msg" {
					quoted = append(quoted, m[1])
				}
			}
		}
		for _, q := range quoted {
			msg := strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(squash(q), "..."), "…"))
			found := false
			for _, s := range code {
				if strings.HasPrefix(s, msg) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s quotes the log message %q, which no code logs", name, q)
			}
		}
	}
}

func TestDocsQuoteOnlyRealMetrics(t *testing.T) {
	code := strings.Join(codeStrings(t), "\n")
	for name, doc := range docFiles(t) {
		for _, m := range metric.FindAllString(doc, -1) {
			base := m
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suffix); ok && !strings.Contains(code, `"`+m) {
					base = b
				}
			}
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(base) + `$`).MatchString(code) {
				t.Errorf("%s names the metric %s, which no code registers", name, m)
			}
		}
	}
}
