// Cases of each operation used as intended: put and read back, overwrite, delete, ping.

package blobtest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

func testRoundTrip(t *testing.T, s Store) {
	opts := blob.PutOptions{
		ContentType: "application/pdf",
		Metadata:    map[string]string{"lookup-id": "lk-123", "session-id": "sess-456", "artifact": "report 1"},
	}
	for _, tc := range []struct {
		name    string
		size    int64
		unknown bool // pass -1
	}{
		{"empty", 0, false},
		{"empty unknown size", 0, true},
		{"one byte", 1, false},
		{"small", 100<<10 + 3, false},
		{"small unknown size", 100<<10 + 3, true},
		{"above one S3 part", 17<<20 + 5, false}, // multipart with known size
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "aml/lk-123/" + strings.ReplaceAll(tc.name, " ", "-") + ".pdf"
			seed := uint64(tc.size)
			size := tc.size
			if tc.unknown {
				size = -1
			}
			obj, err := s.Put(t.Context(), key, Data(seed, tc.size), size, opts)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			checkStored(t, s, obj, key, tc.size, DataSHA256(seed, tc.size), opts)
		})
	}
	t.Run("key characters", func(t *testing.T) {
		for _, key := range []string{"a", "x..y", "with space/ünïcode-ключ.json", "deep/er/and/deeper/k"} {
			content := []byte("content of " + key)
			obj, err := s.Put(t.Context(), key, bytes.NewReader(content), int64(len(content)), blob.PutOptions{})
			if err != nil {
				t.Fatalf("Put(%q): %v", key, err)
			}
			checkStored(t, s, obj, key, int64(len(content)), sum(content), blob.PutOptions{})
		}
	})
}

func testDefaultContentType(t *testing.T, s Store) {
	obj, err := s.Put(t.Context(), "k", strings.NewReader("x"), 1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.ContentType != blob.DefaultContentType {
		t.Errorf("ContentType = %q, want %q", obj.ContentType, blob.DefaultContentType)
	}
	checkStored(t, s, obj, "k", 1, sum([]byte("x")), blob.PutOptions{})
}

func testOverwrite(t *testing.T, s Store) {
	const key = "aml/lk/result.json"
	first := bytes.Repeat([]byte("first version "), 1000)
	second := []byte(`{"second":true}`)
	opts1 := blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"lookup-id": "lk", "only-first": "1"}}
	opts2 := blob.PutOptions{ContentType: "application/json", Metadata: map[string]string{"lookup-id": "lk"}}
	if _, err := s.Put(t.Context(), key, bytes.NewReader(first), int64(len(first)), opts1); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Put(t.Context(), key, bytes.NewReader(second), -1, opts2)
	if err != nil {
		t.Fatal(err)
	}
	// The shorter, later content wins whole; the first version's metadata
	// is gone.
	checkStored(t, s, obj, key, int64(len(second)), sum(second), opts2)
	if got := getBytes(t, s, key); !bytes.Equal(got, second) {
		t.Errorf("Get after overwrite = %q, want %q", got, second)
	}
}

func testDelete(t *testing.T, s Store) {
	ctx := t.Context()
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if _, err := s.Put(ctx, "d/k", strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d"); err != nil { // a prefix, not an object
		t.Errorf("Delete of a prefix: %v", err)
	}
	for i := range 2 {
		if err := s.Delete(ctx, "d/k"); err != nil {
			t.Errorf("Delete #%d: %v", i+1, err)
		}
		if _, err := s.Stat(ctx, "d/k"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat after Delete #%d: err = %v, want ErrNotFound", i+1, err)
		}
	}
	// The key can be used again.
	obj, err := s.Put(ctx, "d/k", strings.NewReader("y"), 1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, s, obj, "d/k", 1, sum([]byte("y")), blob.PutOptions{})
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if s.Location() == "" {
		t.Error("Location is empty")
	}
}
