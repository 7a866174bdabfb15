// Package blobtest is the contract that every blob store (blob.S3, blob.Dir)
// must honour, run as one test suite against each, in the manner of
// testing/fstest.
package blobtest

import (
	"context"
	"io"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

// Store is the method set shared by blob.S3 and blob.Dir.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error)
	Stat(ctx context.Context, key string) (blob.Info, error)
	Delete(ctx context.Context, key string) error
	ErasePrefix(ctx context.Context, prefix string, keys []string) (blob.Erased, error)
	Prefixes(ctx context.Context, parent, start string) ([]string, error)
	Ping(ctx context.Context) error
	Location() string
	Bucket() string
}

// LargeSize is the size of the object that checks that Put streams.
const LargeSize = 64 << 20

// MaxHeapGrowth bounds how much the heap may grow while LargeSize bytes are
// put: the S3 part buffer (16 MiB by default) plus garbage not yet collected,
// far below the object's size. It is a bound on memory, not on time.
const MaxHeapGrowth = 40 << 20

// Run runs the contract. newStore must return a fresh, empty store each time
// it is called (for S3, a new bucket); subtests that call it may run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("DefaultContentType", func(t *testing.T) { testDefaultContentType(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("InvalidKey", func(t *testing.T) { testInvalidKey(t, newStore(t)) })
	t.Run("InvalidMetadata", func(t *testing.T) { testInvalidMetadata(t, newStore(t)) })
	t.Run("After", func(t *testing.T) { testAfter(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("ErasePrefix", func(t *testing.T) { testErasePrefix(t, newStore(t)) })
	t.Run("Prefixes", func(t *testing.T) { testPrefixes(t, newStore(t)) })
	t.Run("Ping", func(t *testing.T) { testPing(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, newStore(t)) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, newStore(t)) })
	// Last and alone: it measures the heap of the whole process.
	t.Run("Large", func(t *testing.T) { testLarge(t, newStore(t)) })
}
