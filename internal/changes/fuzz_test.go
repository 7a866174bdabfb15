package changes_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kybflow/kybflow/internal/changes"
)

// FuzzCompare checks, for any two inputs, that Compare does not panic;
// that a document compared with itself has no change, and that only what
// is not a JSON object (or null) is refused; and that comparing the other
// way round swaps added and removed and keeps the rest.
func FuzzCompare(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	var docs [][]byte
	for _, file := range append(files, filepath.Join("..", "amlapi", "testdata", "organization_no.json"),
		filepath.Join("..", "amlapi", "testdata", "beneficial_owners.json")) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, b)
	}
	for i, a := range docs {
		f.Add(a, docs[(i+1)%len(docs)], i%2 == 0)
	}
	for _, s := range [][2]string{
		{`{}`, `null`},
		{`{"roles": [1, 1, "1", 1.0, null]}`, `{"roles": [1e0, null, "1"]}`},
		{`{"ownership": {}}`, `{"ownership": []}`},
		{`{"ownership": {"beneficials": [{"name": "A"}, {"name": "A", "share": 1}]}}`, `{"ownership": {"beneficials": [{"name": "A", "share": 2}]}}`},
		{`{"a": {"b": {"c": [{"d": {}}]}}}`, `{"a": {"b": {"c": [{"d": {"e": 1}}]}}}`},
		{`{"x": 1e400}`, `{"x": 1e401}`},
		{`[]`, `"x"`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]), true)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, organization bool) {
		k := changes.BeneficialOwners
		if organization {
			k = changes.Organization
		}
		for _, x := range [][]byte{a, b} {
			r, err := changes.Compare(k, x, x)
			if isDocument(x) != (err == nil) {
				t.Fatalf("Compare(x, x) = %v for %q", err, x)
			}
			if err != nil && !errors.Is(err, changes.ErrNotDocument) {
				t.Fatalf("error %v is not ErrNotDocument", err)
			}
			if r.Changed || len(r.Blocks) > 0 || len(r.Diff.Blocks) > 0 {
				t.Fatalf("Compare(x, x) changed %+v for %q", r.Blocks, x)
			}
		}
		ab, errAB := changes.Compare(k, a, b)
		ba, errBA := changes.Compare(k, b, a)
		if (errAB == nil) != (errBA == nil) {
			t.Fatalf("errors %v one way, %v the other", errAB, errBA)
		}
		if errAB != nil {
			return
		}
		if ab.Changed != (len(ab.Blocks) > 0) || len(ab.Diff.Blocks) != len(ab.Blocks) {
			t.Fatalf("Changed %v, %d blocks, %d in the diff", ab.Changed, len(ab.Blocks), len(ab.Diff.Blocks))
		}
		if _, err := json.Marshal(ab.Diff); err != nil {
			t.Fatalf("the diff does not encode: %v", err)
		}
		if len(ab.Blocks) != len(ba.Blocks) {
			t.Fatalf("%d blocks one way, %d the other", len(ab.Blocks), len(ba.Blocks))
		}
		swap := map[changes.Presence]changes.Presence{changes.Kept: changes.Kept, changes.Appeared: changes.Disappeared, changes.Disappeared: changes.Appeared}
		for i, x := range ab.Blocks {
			y := ba.Blocks[i]
			if x.Added < 0 || x.Removed < 0 || x.Modified < 0 || x.Presence == changes.Kept && x.Added+x.Removed+x.Modified == 0 {
				t.Fatalf("block %+v: a block kept and changed counts something", x)
			}
			if y.Block != x.Block || y.Presence != swap[x.Presence] || y.Added != x.Removed || y.Removed != x.Added || y.Modified != x.Modified {
				t.Fatalf("one way %+v, the other %+v", x, y)
			}
		}
	})
}

// isDocument reports whether b is one JSON object, or null.
func isDocument(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	b = bytes.TrimSpace(b)
	return b[0] == '{' || string(b) == "null"
}
