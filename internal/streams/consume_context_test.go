package streams

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestHandlerContextsLeaveNothingBehind: the loop's work context lives as
// long as the loop, so a handler's context must leave no child behind in
// it once cancelled: 200,000 messages would otherwise hold megabytes for
// good (they did, about 130 bytes a message).
func TestHandlerContextsLeaveNothingBehind(t *testing.T) {
	work, stop := context.WithCancel(context.Background())
	defer stop()
	for _, timeout := range []time.Duration{0, time.Hour} {
		before := liveHeap()
		for range 200_000 {
			_, cancel := handlerContext(work, timeout)
			cancel()
		}
		if grown := liveHeap() - before; grown > 4<<20 {
			t.Errorf("handler timeout %s: 200,000 handler contexts left %d bytes behind", timeout, grown)
		}
	}
}

// liveHeap is the bytes of live heap objects, just after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
