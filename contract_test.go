package kybflow_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/kybflow/kybflow"
)

// exampleBlock finds the JSON examples of docs/contract.md, each marked
// with the schema it follows.
var exampleBlock = regexp.MustCompile("(?s)<!-- schema: ([a-z-]+) -->\n```json\n(.*?)\n```")

// TestContractExamples validates the examples of docs/contract.md against
// the schemas and the code: the commands parse to the golden commands, and
// each event is one of the golden events, so the document cannot drift.
func TestContractExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("docs", "contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	set := schemas(t)
	golden := goldenEvents(t)
	blocks := exampleBlock.FindAllSubmatch(doc, -1)
	if len(blocks) != 9 {
		t.Fatalf("%d examples in contract.md, want 9", len(blocks))
	}
	for i, m := range blocks {
		schema, data := string(m[1]), m[2]
		switch schema {
		case "lookup-command":
			if err := validate(set.command, data); err != nil {
				t.Errorf("example %d: schema: %v", i, err)
			}
			c, err := kybflow.ParseCommand(data)
			if err != nil {
				t.Fatalf("example %d: %v", i, err)
			}
			assertEqual(t, c, goldenCommand)
		case "monitor-command":
			if err := validate(set.monitorCommand, data); err != nil {
				t.Errorf("example %d: schema: %v", i, err)
			}
			c, err := kybflow.ParseMonitorCommand(data)
			if err != nil {
				t.Fatalf("example %d: %v", i, err)
			}
			assertEqual(t, c, goldenMonitorCommand(t))
		case "event":
			if err := validate(set.event, data); err != nil {
				t.Errorf("example %d: schema: %v", i, err)
			}
			e, err := kybflow.DecodeEvent(data)
			if err != nil {
				t.Fatalf("example %d: %v", i, err)
			}
			assertSameEvent(t, e, golden[e.Kind()])
		default:
			t.Errorf("example %d: unknown schema %q", i, schema)
		}
	}
}
