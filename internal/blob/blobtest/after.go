// Metadata known only once the body is read (PutOptions.After).

package blobtest

import (
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

// eofReader notes when its reader has returned EOF.
type eofReader struct {
	r    io.Reader
	done bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		e.done = true
	}
	return n, err
}

func testAfter(t *testing.T, s Store) {
	for _, tc := range []struct {
		name    string
		size    int64
		unknown bool
	}{
		{"small", 3 << 10, false},
		{"small unknown size", 3 << 10, true},
		{"streamed", 2<<20 + 7, false},               // S3: one streamed PUT, then a copy
		{"multipart unknown size", 17<<20 + 5, true}, // S3: parts, then the copy
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "aml/lk-1/" + strings.ReplaceAll(tc.name, " ", "-") + ".pdf"
			seed := uint64(tc.size) + 7
			src := &eofReader{r: Data(seed, tc.size)}
			calls := 0
			opts := blob.PutOptions{ContentType: "application/pdf", Metadata: map[string]string{"lookup-id": "lk-1", "signature": "pending"},
				After: func() map[string]string {
					calls++
					if !src.done {
						t.Error("After called before the body was read to its end")
					}
					return map[string]string{"signature": "valid", "signed-at": "2026-12-08T01:30:00Z"}
				}}
			size := tc.size
			if tc.unknown {
				size = -1
			}
			obj, err := s.Put(t.Context(), key, src, size, opts)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if calls != 1 {
				t.Errorf("After called %d times, want once", calls)
			}
			want := opts
			want.Metadata = maps.Clone(opts.Metadata)
			want.Metadata["signature"], want.Metadata["signed-at"] = "valid", "2026-12-08T01:30:00Z"
			checkStored(t, s, obj, key, tc.size, DataSHA256(seed, tc.size), want)
		})
	}
	t.Run("invalid", func(t *testing.T) {
		_, err := s.Put(t.Context(), "aml/lk-1/bad.pdf", strings.NewReader("%PDF-1.7"), 8, blob.PutOptions{
			After: func() map[string]string { return map[string]string{"Bad Key": "x"} }})
		if !errors.Is(err, blob.ErrInvalidMetadata) {
			t.Errorf("Put with invalid metadata after the body: %v; want ErrInvalidMetadata", err)
		}
	})
}
