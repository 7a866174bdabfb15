package docs

// The variables and defaults the docs quote, against every binary's
// settings as its --help shows them.

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/cli"
	"github.com/kybflow/kybflow/internal/console"
	"github.com/kybflow/kybflow/internal/devmode"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/tracing"
	"github.com/kybflow/kybflow/internal/worker"
)

// A setting is one variable of one binary, with its default as the binary
// shows it ("" for none, or when it could not be read: known says which).
type setting struct {
	binary, env, def string
	known            bool
}

// binarySettings is every setting of every binary, by variable: the
// worker's (`worker topology` reads the same), the bridge's, development
// mode's, the sandbox's (its package's and the program's own, read from
// cmd/aml-sandbox), and amlctl's, from the help of each of its commands.
func binarySettings(t *testing.T) map[string][]setting {
	t.Helper()
	out := map[string][]setting{}
	add := func(s setting) { out[s.env] = append(out[s.env], s) }
	for _, b := range []struct {
		name     string
		register func(*envconfig.Set)
	}{
		{"worker", func(s *envconfig.Set) { new(worker.Config).Settings(s) }},
		{"webhook-bridge", func(s *envconfig.Set) { new(bridge.Config).Settings(s) }},
		{"console", func(s *envconfig.Set) { new(console.Config).Settings(s) }},
		{"kybflow-dev", func(s *envconfig.Set) { new(devmode.Config).Settings(s) }},
		{"aml-sandbox", func(s *envconfig.Set) {
			new(sandbox.Config).Settings(s)
			l := sandbox.Logging() // the program's own SANDBOX_LOG_LEVEL (cmd/aml-sandbox)
			l.RegisterLevel(s)
		}},
	} {
		set := envconfig.New(b.name, envconfig.MapLookup(nil), io.Discard)
		b.register(set)
		rows := markdownRow.FindAllStringSubmatch(set.Markdown(), -1)
		if len(rows) != len(set.Vars()) {
			t.Fatalf("%s: read %d settings off its Markdown table, it has %d", b.name, len(rows), len(set.Vars()))
		}
		for _, m := range rows {
			add(setting{binary: b.name, env: m[1], def: m[2], known: true})
		}
	}
	for _, s := range mainSettings(t) {
		add(s)
	}
	for _, s := range amlctlSettings(t) {
		add(s)
	}
	return out
}

// markdownRow is a row of envconfig.Set.Markdown: variable, flag, default.
var markdownRow = regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\| `--[^`]+` \\| (?:`([^`]*)`)? *\\|")

// setMethods are the envconfig.Set methods that register a setting; each
// takes the variable's name, then the flag's, then (but Secret and
// SecretFunc) the default.
var setMethods = map[string]bool{
	"String": true, "Secret": true, "Bool": true, "Int": true, "Float": true, "Duration": true,
	"List": true, "Func": true, "SecretFunc": true, "Switch": true, "Bytes": true,
}

// mainSettings is what the programs under cmd/ register themselves (the
// sandbox program's listen address), read from their source:
// a main package cannot be imported. A default is known when it is a
// string literal.
func mainSettings(t *testing.T) []setting {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "cmd", "*", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []setting
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		binary := filepath.Base(filepath.Dir(path))
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !setMethods[sel.Sel.Name] {
				return true
			}
			lits := make([]string, len(call.Args))
			for i, a := range call.Args {
				if l, ok := a.(*ast.BasicLit); ok && l.Kind == token.STRING {
					lits[i], _ = strconv.Unquote(l.Value)
				}
			}
			for i := 0; i+1 < len(lits); i++ {
				if envName.MatchString(lits[i]) && flagName.MatchString(lits[i+1]) {
					s := setting{binary: binary, env: lits[i]}
					if !strings.HasPrefix(sel.Sel.Name, "Secret") && i+2 < len(lits) {
						if _, isLit := call.Args[i+2].(*ast.BasicLit); isLit {
							s.def, s.known = lits[i+2], true
						}
					}
					out = append(out, s)
					break
				}
			}
			return true
		})
	}
	return out
}

var (
	envName  = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	flagName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	// In amlctl's help: "  NATS_URL (--nats-url)", its usage on the next
	// line, ending "(default x)" when it has one; and "  get   ..." under
	// "Commands:".
	amlctlVar     = regexp.MustCompile(`(?m)^  ([A-Z][A-Z0-9_]*) \(--[a-z0-9-]+\)\n\s+(.*)$`)
	amlctlDefault = regexp.MustCompile(`\(default ([^()]*)\)$`)
	amlctlCommand = regexp.MustCompile(`(?m)^  ([a-z]+)\b`)
)

// amlctlSettings is every variable amlctl's commands read, from the help
// of each command and subcommand (amlctl help lookup, amlctl deadletters
// list --help, ...).
func amlctlSettings(t *testing.T) []setting {
	t.Helper()
	help := func(args ...string) string {
		var out bytes.Buffer
		if code := cli.Main(context.Background(), args, envconfig.MapLookup(nil), &out, io.Discard); code != 0 {
			t.Fatalf("amlctl %s: exit %d", strings.Join(args, " "), code)
		}
		return out.String()
	}
	var out []setting
	var walk func(path []string, text string)
	walk = func(path []string, text string) {
		for _, m := range amlctlVar.FindAllStringSubmatch(text, -1) {
			s := setting{binary: "amlctl " + strings.Join(path, " "), env: m[1], known: true}
			if d := amlctlDefault.FindStringSubmatch(strings.TrimSpace(m[2])); d != nil {
				s.def = d[1]
			}
			out = append(out, s)
		}
		if _, cmds, ok := strings.Cut(text, "\nCommands:\n"); ok {
			cmds, _, _ = strings.Cut(cmds, "\n\n")
			for _, m := range amlctlCommand.FindAllStringSubmatch(cmds+"\n", -1) {
				sub := append(slices.Clone(path), m[1])
				walk(sub, help(append(slices.Clone(sub), "--help")...))
			}
		}
	}
	walk(nil, help("--help"))
	if len(out) == 0 {
		t.Fatal("read no variable off amlctl's help")
	}
	return out
}

// Upper-case names the docs quote in backticks, alone or as NAME=value.
var quotedName = regexp.MustCompile("`([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:=[^`]*)?`")

// notVariables are upper-case names the docs quote that are no binary's
// setting, each with what it is. The words of the AML API (error codes,
// statuses) and stream names are recognised apart.
var notVariables = map[string]string{
	"GOMEMLIMIT":  "the Go runtime's",
	"GOTOOLCHAIN": "the go command's", "CGO_ENABLED": "the go command's",
	// The test suite's and the benchmarks' (Makefile, internal/testenv, e2e).
	"MINIO_BIN": "tests", "REQUIRE_MINIO": "tests", "REQUIRE_PDF_TOOLS": "tests", "REQUIRE_NODE_CHECKS": "tests",
	"REQUIRE_BROWSER": "tests", "CHROMIUM_BIN": "tests", "SCREENSHOT_DIR": "tests", "UPDATE_SCREENSHOTS": "tests",
	"KYBFLOW_TEST_LOG": "tests", "TEST_FLAGS": "Makefile", "FUZZTIME": "Makefile", "MINIO_VERSION": "scripts/install-tools.sh",
	"SCALE_LOOKUPS": "e2e", "SCALE_ROUNDS": "e2e", "SCALE_SESSIONS": "e2e", "SCALE_PHASES": "e2e", "MONITORS_N": "e2e", "MONITOR_RUNS_N": "e2e", "MONITOR_RUNS_GAP_MIN": "e2e", "CONSOLE_N": "internal/console",
	"SCALE_PPROF_DIR": "e2e", "SCALE_PPROF_SECONDS": "e2e", "E2E_FAULTS_LOG_DIR": "e2e",
	// The OpenTelemetry SDK's and exporter's, which they read from the
	// environment themselves (internal/tracing reads the others).
	"OTEL_EXPORTER_OTLP_HEADERS": "OpenTelemetry", "OTEL_SERVICE_NAME": "OpenTelemetry",
	"OTEL_RESOURCE_ATTRIBUTES": "OpenTelemetry", "OTEL_TRACES_SAMPLER": "OpenTelemetry",
	"OTEL_TRACES_SAMPLER_ARG": "OpenTelemetry",
}

// TestDocsNameOnlyRealVariables keeps every environment variable that
// docs/*.md and the README name one that some binary reads: a variable an
// operator copies into a ConfigMap and no binary reads is silently ignored.
func TestDocsNameOnlyRealVariables(t *testing.T) {
	vars := binarySettings(t)
	for _, v := range []string{tracing.EnvEndpoint, tracing.EnvTracesEndpoint, tracing.EnvProtocol,
		tracing.EnvTracesProtocol, tracing.EnvSDKDisabled, tracing.EnvTracesExporter} {
		vars[v] = append(vars[v], setting{binary: "internal/tracing", env: v})
	}
	api := apiWords(t)
	streamNames := streamNames()
	for name, doc := range docFiles(t) {
		for _, m := range quotedName.FindAllStringSubmatch(doc, -1) {
			v := m[1]
			if len(vars[v]) > 0 || notVariables[v] != "" || api[v] || streamNames.MatchString(v) {
				continue
			}
			t.Errorf("%s names the variable %s (in %s), which no binary's settings register", name, v, m[0])
		}
	}
	// The list of exceptions stays true: each is read where it says.
	code := strings.Join(allText(t), "\n")
	for v, where := range notVariables {
		if where == "tests" || where == "e2e" || where == "Makefile" || where == "scripts/install-tools.sh" {
			if !strings.Contains(code, v) {
				t.Errorf("notVariables lists %s (%s), which nothing in the repository reads: remove it", v, where)
			}
		}
		if len(vars[v]) > 0 {
			t.Errorf("notVariables lists %s, which is a setting of %s: remove it", v, vars[v][0].binary)
		}
	}
}

// streamNames matches the names of streams and the bucket, of any prefix.
func streamNames() *regexp.Regexp {
	return regexp.MustCompile(`^(KV_)?[A-Z0-9_]*_(COMMANDS|CHECKS|WEBHOOKS|EVENTS|DEADLETTER|LOOKUPS|BUDGET|MONITORS|SCHEDULES|AUDIT)$`)
}

// apiWords are the upper-case string literals of the AML API's model and
// of the sandbox that serves it (error codes, statuses, roles).
func apiWords(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, dir := range []string{"../internal/amlapi", "../internal/sandbox"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
					if s, err := strconv.Unquote(l.Value); err == nil && envName.MatchString(s) {
						out[s] = true
					}
				}
				return true
			})
		}
	}
	return out
}

// allText is the text of the module's Go files (tests included), the
// Makefile and the scripts.
func allText(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sh") || d.Name() == "Makefile") {
			return nil
		}
		b, err := os.ReadFile(path)
		out = append(out, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A default quoted beside its variable, as operations.md writes them:
// `ACK_WAIT` (15 s), `S3_PART_SIZE` bytes (default 8 MiB), `HTTP_ADDR`
// (`:9090`, ...), (`ACK_WAIT`, 15 s), (`DEADLETTER_MAX_AGE`, 30 days by
// default), `EVENTS_MAX_AGE`, default `168h`. A value is a number with its
// unit, or a word in backticks.
var quotedDefault = []*regexp.Regexp{
	regexp.MustCompile("`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`(?: bytes)?\\s\\((?:default\\s)?(" + quotedValue + ")[,;)]"),
	regexp.MustCompile("\\(`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`,\\s(" + quotedValue + ")(?:\\)|\\sby default)"),
	regexp.MustCompile("`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`,\\sdefault\\s(" + quotedValue + ")"),
}

const quotedValue = "`[^` ]+`|[0-9][0-9.]*\\s?[A-Za-z]*"

// TestOperationsQuotesTheCodesDefaults keeps every default operations.md
// quotes beside a variable equal to that variable's default in some binary
// that reads it.
func TestOperationsQuotesTheCodesDefaults(t *testing.T) {
	vars := binarySettings(t)
	doc, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	var found [][]string
	for _, re := range quotedDefault {
		found = append(found, re.FindAllStringSubmatch(string(doc), -1)...)
	}
	for _, m := range found {
		v, quoted := m[1], strings.Join(strings.Fields(strings.Trim(m[2], "`")), " ")
		if len(vars[v]) == 0 || envName.MatchString(quoted) {
			continue // not a setting (a stream's name), or not a value (a list of names); TestDocsNameOnlyRealVariables checks names
		}
		checked++
		var defaults []string
		match := false
		for _, s := range vars[v] {
			if !s.known {
				continue
			}
			defaults = append(defaults, s.binary+": "+strconv.Quote(s.def))
			match = match || sameValue(quoted, s.def)
		}
		if !match {
			t.Errorf("operations.md quotes %s as its default (%q), but the code's default is %s", v, m[0], strings.Join(defaults, ", "))
		}
	}
	if checked < 10 {
		t.Errorf("checked only %d quoted defaults in operations.md: has the way they are written changed?", checked)
	}
}

// sameValue compares a default as the docs write it (15 s, 2 minutes,
// 30 days, 8 MiB, 64 KiB, :9090) with one as a binary shows it (15s,
// 2m0s, 720h0m0s, 8388608, 64KiB, :9090).
func sameValue(quoted, def string) bool {
	if quoted == def {
		return true
	}
	num, unit, _ := strings.Cut(strings.Replace(quoted, " ", "\x00", 1), "\x00")
	if unit == "" { // 20s, 10m, 2GiB
		i := strings.IndexFunc(quoted, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i > 0 {
			num, unit = quoted[:i], quoted[i:]
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return false
	}
	durations := map[string]time.Duration{
		"ms": time.Millisecond, "s": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	if d, ok := durations[unit]; ok {
		got, err := time.ParseDuration(def)
		return err == nil && got == time.Duration(n*float64(d))
	}
	sizes := map[string]int64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	if u, ok := sizes[unit]; ok {
		got, err := envconfig.ParseBytes(def)
		return err == nil && got == int64(n*float64(u))
	}
	if unit == "" {
		got, err := strconv.ParseFloat(def, 64)
		return err == nil && got == n
	}
	return false
}

// TestOperationsWorstCaseMemory keeps the worst case of the worker's
// memory that operations.md gives (Resources) equal to what the code's
// defaults make of it: the part buffers blob.S3 keeps, and a small
// object's buffer per upload in flight, one per handler of every role.
func TestOperationsWorstCaseMemory(t *testing.T) {
	doc, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ {4}⌊S3_UPLOAD_MEMORY / S3_PART_SIZE⌋ × S3_PART_SIZE \+ WORKER_CONCURRENCY × roles × 1 MiB +≈ +([0-9]+) MiB$`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("operations.md has no worst case of the worker's memory in the form the code computes (Resources)")
	}
	c := worker.Defaults()
	parts := int64(c.Storage.UploadMemory) / int64(c.Storage.PartSize) * int64(c.Storage.PartSize)
	small := int64(c.Concurrency) * int64(len(c.Roles)) * blob.SmallObjectSize
	want := (parts + small) >> 20
	if got, _ := strconv.ParseInt(string(m[1]), 10, 64); got != want {
		t.Errorf("operations.md gives the worker's worst case as %d MiB; the code's defaults make %d MiB (%d of part buffers, %d handlers × 1 MiB)",
			got, want, parts>>20, int64(c.Concurrency)*int64(len(c.Roles)))
	}
}
