package handler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
)

// deadlines is the real events stream, keeping the deadline of every read.
type deadlines struct {
	EventLog
	mu   sync.Mutex
	left []time.Duration // time left to each read's deadline, when it began (-1: none)
}

func (d *deadlines) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	d.mu.Lock()
	d.left = append(d.left, left)
	d.mu.Unlock()
	return d.EventLog.GetLastMsgForSubject(ctx, subject)
}

// TestEventReadsAreBounded: the reads of the events stream behind an
// ending are bounded like a record read, whatever the handler's deadline: a
// read whose answer was lost with a server (a leader killed mid-request)
// fails in seconds and is retried, instead of holding the handler, and a
// slot of its consume loop, until the handler's deadline (a fault benchmark
// lost lookups that way: every check slot of every worker held).
func TestEventReadsAreBounded(t *testing.T) {
	h, store, _ := newHandlers(t)
	d := &deadlines{EventLog: h.c.Events}
	h.c.Events = d
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a handler's deadline
	defer cancel()
	rec := openedRecord("bounded", time.Minute)
	if _, err := h.publishEvent(ctx, kybflow.KindAccepted, "bounded", rec.Command.AcceptedData()); err != nil {
		t.Fatal(err)
	}
	rec.State, rec.FinishedAt = lookups.Completed, time.Now()
	rec.Artifacts = []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "lookups/bounded/json.json", Size: 2,
		SHA256: strings.Repeat("ab", 32), ContentType: "application/json"}}
	if _, err := store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := failed(h.finish(ctx, rec)); err != nil { // another event last, the ending missing: two reads
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.left) != 2 {
		t.Fatalf("%d reads of the events stream, want 2", len(d.left))
	}
	for i, left := range d.left {
		if left < 0 || left > lookups.RequestTimeout {
			t.Errorf("read %d: %s left to its deadline, want at most %s", i+1, left, lookups.RequestTimeout)
		}
	}
}
