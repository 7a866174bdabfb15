// Cases of ErasePrefix: everything under a prefix goes, nothing beside it.

package blobtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

func testErasePrefix(t *testing.T, s Store) {
	ctx := t.Context()
	erased := []string{"lk/a/json.json", "lk/a/report-aml.pdf", "lk/a/deeper/x.pdf"}
	kept := []string{"lk/ab/json.json", "lk/a.json", "other/lk/a/json.json"}
	for _, key := range append(slices.Clone(erased), kept...) {
		if _, err := s.Put(ctx, key, strings.NewReader("data of "+key), -1, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// An overwrite leaves one object (S3 without versioning: one version).
	if _, err := s.Put(ctx, "lk/a/json.json", strings.NewReader("again"), 5, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	e, err := s.ErasePrefix(ctx, "lk/a/", []string{"lk/a/json.json", "lk/b/json.json"})
	want := []string{"lk/a/deeper/x.pdf", "lk/a/json.json", "lk/a/report-aml.pdf"}
	if err != nil || !slices.Equal(e.Objects, want) || e.Versions != 0 || e.Uploads != 0 {
		t.Fatalf("ErasePrefix = %+v, %v; want objects %q and nothing else", e, err, want)
	}
	for _, key := range erased {
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q) after ErasePrefix: err = %v, want ErrNotFound", key, err)
		}
	}
	for _, key := range kept {
		if _, err := s.Stat(ctx, key); err != nil {
			t.Errorf("Stat(%q), beside the prefix: %v", key, err)
		}
	}
	if e, err := s.ErasePrefix(ctx, "lk/a/", nil); err != nil || !e.Empty() {
		t.Errorf("second ErasePrefix = %+v, %v; want nothing removed", e, err)
	}
	if e, err := s.ErasePrefix(ctx, "never/there/", nil); err != nil || !e.Empty() {
		t.Errorf("ErasePrefix of an empty prefix = %+v, %v; want nothing removed", e, err)
	}
	// An object whose key is the prefix without its slash is not under it.
	if e, err := s.ErasePrefix(ctx, "lk/a.json/", nil); err != nil || !e.Empty() {
		t.Errorf("ErasePrefix(lk/a.json/) = %+v, %v; want nothing removed", e, err)
	}
	// The key can be used again.
	if _, err := s.Put(ctx, "lk/a/json.json", strings.NewReader("new"), 3, blob.PutOptions{}); err != nil {
		t.Errorf("Put after ErasePrefix: %v", err)
	}

	for _, prefix := range []string{"", "/", "lk/a", "lk//", "../lk/", "lk/../", "lk/.hidden/", "/lk/"} {
		if _, err := s.ErasePrefix(ctx, prefix, nil); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ErasePrefix(%q): err = %v, want ErrInvalidKey", prefix, err)
		}
	}
	for _, key := range kept {
		if _, err := s.Stat(ctx, key); err != nil {
			t.Errorf("Stat(%q) after invalid prefixes: %v", key, err)
		}
	}
}
