// Tests of PrintArtifacts, the artifact table of a completed lookup.

package cli

import (
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

func TestPrintArtifacts(t *testing.T) {
	var b strings.Builder
	PrintArtifacts(&b, kybflow.CompletedData{Artifacts: []kybflow.Artifact{
		{Name: "json", Bucket: "results", Key: "lookups/x/json.json", Size: 812, SHA256: strings.Repeat("ab", 32)},
		{Name: "report:aml", Bucket: "results", Key: "lookups/x/report-aml.pdf", Size: 3 << 20, SHA256: strings.Repeat("cd", 32)},
	}}, "/srv/blobs")
	got := b.String()
	for _, want := range []string{"json", "812 B", "abababababab ", "results/lookups/x/json.json", "/srv/blobs/lookups/x/json.json",
		"report:aml", "3.0 MiB", "results/lookups/x/report-aml.pdf", "/srv/blobs/lookups/x/report-aml.pdf"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	b.Reset()
	PrintArtifacts(&b, kybflow.CompletedData{Artifacts: []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "k/json.json", SHA256: "00"}}}, "")
	if strings.Contains(b.String(), "FILE") {
		t.Errorf("a FILE column without blobDir:\n%s", b.String())
	}
}
