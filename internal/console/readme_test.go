package console

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/envconfig"
)

var update = flag.Bool("update", false, "rewrite the README's console settings table")

// TestREADMESettings keeps the README's table of the console's settings
// the one --help shows.
func TestREADMESettings(t *testing.T) {
	const path = "../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set := envconfig.New("console", envconfig.MapLookup(nil), io.Discard)
	new(Config).Settings(set)
	text := string(readme)
	start := "<!-- console-settings:start (go test ./internal/console -run README -update) -->\n"
	end := "<!-- console-settings:end -->"
	i, j := strings.Index(text, start), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no console settings markers")
	}
	if want := set.Markdown(); text[i+len(start):j] != want {
		if !*update {
			t.Fatal("README.md's console settings table is out of date; run go test ./internal/console -run README -update")
		}
		if err := os.WriteFile(path, []byte(text[:i+len(start)]+want+text[j:]), 0o644); err != nil { //nolint:gosec // the README is public
			t.Fatal(err)
		}
	}
}
