// Cases of puts from several goroutines at once, to distinct keys and to one.

package blobtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

func testConcurrent(t *testing.T, s Store) {
	const n = 8
	const size = 300 << 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			declared := int64(size)
			if i%2 == 1 {
				declared = -1
			}
			key := fmt.Sprintf("concurrent/%d", i)
			opts := blob.PutOptions{Metadata: map[string]string{"n": fmt.Sprint(i)}}
			if _, err := s.Put(t.Context(), key, Data(uint64(i), size), declared, opts); err != nil {
				t.Errorf("Put(%q): %v", key, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		key := fmt.Sprintf("concurrent/%d", i)
		obj := blob.Object{Bucket: s.Bucket(), Key: key, Size: size, SHA256: DataSHA256(uint64(i), size), ContentType: blob.DefaultContentType}
		checkStored(t, s, obj, key, size, obj.SHA256, blob.PutOptions{Metadata: map[string]string{"n": fmt.Sprint(i)}})
	}
}

// testConcurrentSameKey overwrites one key from several goroutines at once
// (a redelivered message handled twice). A Put may fail, but only with a
// transient error, and the object left behind must be one writer's content
// with that writer's hash and metadata.
func testConcurrentSameKey(t *testing.T, s Store) {
	const n = 4
	const size = 200 << 10
	const key = "same/key"
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		oks  int
		hash = map[string]int{}
	)
	for i := range n {
		hash[DataSHA256(uint64(100+i), size)] = i
		wg.Go(func() {
			opts := blob.PutOptions{Metadata: map[string]string{"writer": fmt.Sprint(i)}}
			_, err := s.Put(t.Context(), key, Data(uint64(100+i), size), size, opts)
			switch {
			case err == nil:
				mu.Lock()
				oks++
				mu.Unlock()
			case !blob.IsTransient(err):
				t.Errorf("writer %d: permanent error: %v", i, err)
			default:
				t.Logf("writer %d: transient error: %v", i, err)
			}
		})
	}
	wg.Wait()
	if oks == 0 {
		t.Fatal("no Put succeeded")
	}
	n2, gotSHA, info := getAll(t, s, key)
	writer, ok := hash[gotSHA]
	if !ok || n2 != size {
		t.Fatalf("object is %d bytes with sha256 %s, not one writer's content", n2, gotSHA)
	}
	if info.SHA256 != gotSHA || info.Metadata["writer"] != fmt.Sprint(writer) {
		t.Errorf("content of writer %d, but info %+v", writer, info)
	}
}
