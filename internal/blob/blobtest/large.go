// The case that checks that Put and Get stream a large object, by the heap's growth.

package blobtest

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/blob"
)

func testLarge(t *testing.T, s Store) {
	const key = "large/report.pdf"
	want := DataSHA256(42, LargeSize)
	for _, declared := range []int64{LargeSize, -1} {
		var obj blob.Object
		var err error
		growth := heapGrowth(func() {
			obj, err = s.Put(t.Context(), key, Data(42, LargeSize), declared, blob.PutOptions{ContentType: "application/pdf"})
		})
		if err != nil {
			t.Fatalf("Put of %d MiB (size %d): %v", LargeSize>>20, declared, err)
		}
		t.Logf("Put of %d MiB (size %d): heap grew by at most %.1f MiB", LargeSize>>20, declared, float64(growth)/(1<<20))
		if growth > MaxHeapGrowth {
			t.Errorf("heap grew by %d MiB during Put of %d MiB (size %d), bound %d MiB: the object is buffered",
				growth>>20, LargeSize>>20, declared, MaxHeapGrowth>>20)
		}
		if obj.Size != LargeSize || obj.SHA256 != want {
			t.Errorf("Put = %+v, want size %d sha256 %s", obj, LargeSize, want)
		}
	}
	var n int64
	var got string
	var info blob.Info
	growth := heapGrowth(func() { n, got, info = getAll(t, s, key) })
	t.Logf("Get of %d MiB: heap grew by at most %.1f MiB", LargeSize>>20, float64(growth)/(1<<20))
	if growth > MaxHeapGrowth {
		t.Errorf("heap grew by %d MiB during Get of %d MiB", growth>>20, LargeSize>>20)
	}
	if n != LargeSize || got != want || info.SHA256 != want || info.Size != LargeSize {
		t.Errorf("Get: %d bytes sha256 %s, info %+v; want %d bytes %s", n, got, info, int64(LargeSize), want)
	}
}

// heapGrowth runs f and returns the peak, sampled every millisecond, of the
// heap's object bytes (live and not yet swept) above its level before f,
// after a collection. Other goroutines of the process count too, so it is
// only meaningful when nothing else runs.
func heapGrowth(f func()) uint64 {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	peak := base
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // owned here: stopped and waited for below
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	f()
	close(stop)
	<-done
	peak = max(peak, read())
	return peak - base
}
