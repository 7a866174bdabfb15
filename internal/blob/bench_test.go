package blob_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/blob/blobtest"
	"github.com/kybflow/kybflow/internal/testenv"
)

// BenchmarkPutS3 measures Put throughput into a local MinIO, including the
// metadata copy. Numbers depend on the machine and MinIO's disk.
func BenchmarkPutS3(b *testing.B) {
	srv := testenv.MinIO(b)
	benchmarkPut(b, newS3(b, s3Config(b, srv)))
}

// BenchmarkPutDir measures Put throughput into a directory, fsync included.
func BenchmarkPutDir(b *testing.B) {
	benchmarkPut(b, newDir(b))
}

func benchmarkPut(b *testing.B, s blobtest.Store) {
	for _, size := range []int64{1 << 20, 32 << 20} {
		data, err := io.ReadAll(blobtest.Data(1, size))
		if err != nil {
			b.Fatal(err)
		}
		for _, declared := range []int64{size, -1} {
			b.Run(fmt.Sprintf("%dMiB/size=%d", size>>20, declared), func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					if _, err := s.Put(b.Context(), "bench/object", bytes.NewReader(data), declared, blob.PutOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
