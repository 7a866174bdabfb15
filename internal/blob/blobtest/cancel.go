// Cases of cancelled contexts: before a call, during Put and during a read.

package blobtest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

// cancelAfter cancels a context once n bytes have been read through it.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func testCancel(t *testing.T, s Store) {
	const key = "cancel/k"
	t.Run("during Put", func(t *testing.T) {
		for _, declared := range []int64{8 << 20, -1} {
			ctx, cancel := context.WithCancel(t.Context())
			src := &cancelAfter{r: Data(7, 8<<20), n: 1 << 20, cancel: cancel}
			_, err := s.Put(ctx, key, src, declared, blob.PutOptions{})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put (size %d) cancelled after 1 MiB: err = %v, want context.Canceled", declared, err)
			}
			if blob.IsTransient(err) {
				t.Errorf("IsTransient(%v) = true", err)
			}
			if _, err := s.Stat(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat after cancelled Put: err = %v, want ErrNotFound", err)
			}
		}
	})
	t.Run("before", func(t *testing.T) {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		errs := map[string]error{}
		_, errs["Put"] = s.Put(ctx, "cancel/other", strings.NewReader("x"), 1, blob.PutOptions{})
		_, _, errs["Get"] = s.Get(ctx, key)
		_, errs["Stat"] = s.Stat(ctx, key)
		errs["Delete"] = s.Delete(ctx, key)
		errs["Ping"] = s.Ping(ctx)
		for op, err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
			}
		}
		if _, err := s.Stat(t.Context(), key); err != nil {
			t.Errorf("object gone after a cancelled Delete: %v", err)
		}
	})
	t.Run("during Get", func(t *testing.T) {
		if _, err := s.Put(t.Context(), key, Data(8, 8<<20), 8<<20, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, &cancelAfter{r: rc, n: 1 << 20, cancel: cancel})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read of a Get cancelled after 1 MiB: err = %v, want context.Canceled", err)
		}
	})
}
