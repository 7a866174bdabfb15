// Cases of Prefixes: the prefixes one segment down, by their beginning.

package blobtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

func testPrefixes(t *testing.T, s Store) {
	ctx := t.Context()
	for _, key := range []string{"lk/acme.m-r1/json.json", "lk/acme.m-r1/report-aml.pdf", "lk/acme.m-r2/deeper/x.pdf",
		"lk/acme.m-x/json.json", "lk/acme.m-r3.json", "lk/other/json.json", "lk2/acme.m-r9/json.json"} {
		if _, err := s.Put(ctx, key, strings.NewReader("data of "+key), -1, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		parent, start string
		want          []string
	}{
		{"lk/", "acme.m-r", []string{"lk/acme.m-r1/", "lk/acme.m-r2/"}},
		{"lk/", "", []string{"lk/acme.m-r1/", "lk/acme.m-r2/", "lk/acme.m-x/", "lk/other/"}},
		{"lk/acme.m-r2/", "", []string{"lk/acme.m-r2/deeper/"}},
		{"lk/", "none", nil},
		{"never/", "", nil},
	} {
		got, err := s.Prefixes(ctx, tc.parent, tc.start)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Prefixes(%q, %q) = %q, %v; want %q", tc.parent, tc.start, got, err, tc.want)
		}
	}
	// An erased prefix is not listed any more.
	if _, err := s.ErasePrefix(ctx, "lk/acme.m-r1/", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Prefixes(ctx, "lk/", "acme.m-r"); err != nil || !slices.Equal(got, []string{"lk/acme.m-r2/"}) {
		t.Errorf("Prefixes after ErasePrefix = %q, %v; want lk/acme.m-r2/ only", got, err)
	}
	for _, tc := range [][2]string{{"lk", ""}, {"", ""}, {"/", ""}, {"lk/../", ""}, {"lk/", "a/b"}, {"lk/", ".."}} {
		if _, err := s.Prefixes(ctx, tc[0], tc[1]); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Prefixes(%q, %q): err = %v, want ErrInvalidKey", tc[0], tc[1], err)
		}
	}
}
