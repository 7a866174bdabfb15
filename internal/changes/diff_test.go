package changes_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/changes"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The structured diff of a before and an after document, as stored, is
// kept in a golden file: it is the shape of the artifact. Run with
// -update to rewrite it after a deliberate change (and bump DiffVersion
// when the shape changed).
func TestDiffGolden(t *testing.T) {
	for _, tc := range []struct {
		kind   changes.Kind
		name   string
		blocks string
	}{
		{changes.Organization, "organization",
			"keyInformation ~2; roles +1 -1 ~1; ownership.beneficials +1 ~1; ownership.shareholders +1 ~2; financials +2 -1; sanction +1 ~1"},
		{changes.BeneficialOwners, "beneficial_owners",
			"beneficialOwners +1 -1 ~1; metadata -1 ~1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := compare(t, tc.kind, readFile(t, tc.name+"_before.json"), readFile(t, tc.name+"_after.json"))
			if got := outline(r); got != tc.blocks {
				t.Errorf("blocks %q, want %q", got, tc.blocks)
			}
			got, err := json.MarshalIndent(r.Diff, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", tc.name+".diff.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, filepath.Base(golden)); string(got) != want {
				t.Errorf("diff differs from %s (run with -update after a deliberate change):\n%s", golden, got)
			}
		})
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The report, as it goes into an event, holds block names and counts only:
// none of the documents' values, and no diff; logging the diff shows the
// counts only.
func TestReportHoldsNoPersonalData(t *testing.T) {
	prev, cur := readFile(t, "organization_before.json"), readFile(t, "organization_after.json")
	r := compare(t, changes.Organization, prev, cur)
	encoded, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("compared", "diff", r.Diff)

	var fields struct {
		Changed bool `json:"changed"`
		Blocks  []struct {
			Block    string `json:"block"`
			Presence string `json:"presence"`
			Added    int    `json:"added"`
			Removed  int    `json:"removed"`
			Modified int    `json:"modified"`
		} `json:"blocks"`
	}
	dec := json.NewDecoder(bytes.NewReader(encoded))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fields); err != nil || !fields.Changed || len(fields.Blocks) == 0 {
		t.Fatalf("the report encodes as %s (%v): want changed and blocks only", encoded, err)
	}
	for _, value := range []string{"Kari", "Liv Berg", "1985-03-03", "Nordlys", "EU-12345", "UNDER_LIQUIDATION", "923609016", "2025"} {
		if strings.Contains(string(encoded), value) {
			t.Errorf("the report holds %q: %s", value, encoded)
		}
		if strings.Contains(logged.String(), value) {
			t.Errorf("the logged diff holds %q: %s", value, logged.String())
		}
	}
	if !strings.Contains(logged.String(), `"roles":{"presence":"","added":1,"removed":1,"modified":1}`) {
		t.Errorf("the logged diff lacks the counts: %s", logged.String())
	}
}
