// Cases of the errors a store must return: size mismatch, not found, invalid keys and metadata.

package blobtest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

func testSizeMismatch(t *testing.T, s Store) {
	const key = "aml/lk/report.pdf"
	old := []byte("old content")
	if _, err := s.Put(t.Context(), key, bytes.NewReader(old), int64(len(old)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		actual   int64
		declared int64
	}{
		{"shorter", 999, 1000},
		{"longer", 1001, 1000},
		{"empty declared", 1, 0},
		{"nothing", 0, 10},
		{"shorter multipart", 17 << 20, 17<<20 + 1},
		{"negative size", 10, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{key, "new/" + key} {
				_, err := s.Put(t.Context(), k, Data(1, tc.actual), tc.declared, blob.PutOptions{})
				if !errors.Is(err, blob.ErrSizeMismatch) {
					t.Fatalf("Put(%q) of %d bytes declared %d: err = %v, want ErrSizeMismatch", k, tc.actual, tc.declared, err)
				}
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name the key", err)
				}
				if blob.IsTransient(err) {
					t.Errorf("IsTransient(%v) = true", err)
				}
			}
			// Nothing stored; the existing object is intact.
			if _, err := s.Stat(t.Context(), "new/"+key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat after failed Put: err = %v, want ErrNotFound", err)
			}
			if got := getBytes(t, s, key); !bytes.Equal(got, old) {
				t.Errorf("existing object = %q, want %q", got, old)
			}
		})
	}
}

func testNotFound(t *testing.T, s Store) {
	if _, err := s.Put(t.Context(), "dir/obj", strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/obj/below", "missing/deeper"} {
		_, err := s.Stat(t.Context(), key)
		if !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q): err = %v, want ErrNotFound", key, err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("Stat(%q): error %q does not name the key", key, err)
		}
		if blob.IsTransient(err) {
			t.Errorf("IsTransient(%v) = true", err)
		}
		rc, _, err := s.Get(t.Context(), key)
		if !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", key, err)
		}
		if rc != nil {
			t.Errorf("Get(%q) returned a reader with an error", key)
			rc.Close()
		}
	}
}

// InvalidKeys are keys every store must reject.
var InvalidKeys = []string{
	"", "/abs", "trailing/", "a//b", ".", "..", "../escape", "a/../../escape", "a/..", "./a", "a/./b",
	".hidden", "a/.sidecar.meta.json", "nul\x00byte", "new\nline", `back\slash`, "\xff\xfe",
	strings.Repeat("k", 1025),
}

func testInvalidKey(t *testing.T, s Store) {
	ctx := t.Context()
	for _, key := range InvalidKeys {
		errs := map[string]error{}
		_, errs["Put"] = s.Put(ctx, key, strings.NewReader("x"), 1, blob.PutOptions{})
		_, _, errs["Get"] = s.Get(ctx, key)
		_, errs["Stat"] = s.Stat(ctx, key)
		errs["Delete"] = s.Delete(ctx, key)
		for op, err := range errs {
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidKey", op, key, err)
				continue
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Errorf("%s(%q): error %q does not name the key", op, key, err)
			}
			if blob.IsTransient(err) {
				t.Errorf("%s(%q): IsTransient = true", op, key)
			}
		}
	}
}

func testInvalidMetadata(t *testing.T, s Store) {
	for _, md := range []map[string]string{
		{"Lookup-Id": "upper-case key"},
		{"lookup_id": "underscore"},
		{"": "empty key"},
		{"sha256": "reserved"},
		{"k": "new\nline"},
		{"k": "non-ascii ü"},
		{"k": " leading space"},
		{"k": strings.Repeat("v", 2000)},
	} {
		_, err := s.Put(t.Context(), "k", strings.NewReader("x"), 1, blob.PutOptions{Metadata: md})
		if !errors.Is(err, blob.ErrInvalidMetadata) {
			t.Errorf("Put with metadata %q: err = %v, want ErrInvalidMetadata", md, err)
		}
		if blob.IsTransient(err) {
			t.Errorf("IsTransient(%v) = true", err)
		}
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after rejected Puts: err = %v, want ErrNotFound", err)
	}
}
