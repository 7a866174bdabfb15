package e2e

// The fault benchmarks' watcher of terminal events on AML_EVENTS, and the audit that reads it again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// faultSighting is a terminal event as the watcher saw it.
type faultSighting struct {
	kind    string // completed or failed (the audit: any kind)
	seq     uint64 // stream sequence
	seen    time.Time
	stored  time.Time // the stream's timestamp
	session string    // the audit: the sessionId of a session_opened event
}

// faultWatch collects terminal events with an ordered consumer on
// AML_EVENTS, on a connection of its own that survives server kills.
type faultWatch struct {
	mu      sync.Mutex
	got     map[string][]faultSighting
	seqs    map[uint64]bool
	errs    int
	lastErr string
}

func faultWatchEvents(tb testing.TB, urls string) *faultWatch {
	tb.Helper()
	js, err := jetstream.New(faultClient(tb, urls, "e2e watcher"))
	if err != nil {
		tb.Fatal(err)
	}
	w := &faultWatch{got: map[string][]faultSighting{}, seqs: map[uint64]bool{}}
	var cons jetstream.Consumer
	err = testenv.Poll(30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cons, err = js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
		return err
	})
	if err != nil {
		tb.Fatalf("watcher: %v", err)
	}
	// Short pulls with frequent heartbeats: a pull that a killed server
	// served is noticed within seconds (the default is 10 s), so the
	// watcher's own recovery adds little to what it measures.
	cc, err := cons.Consume(w.handle, jetstream.PullExpiry(3*time.Second), jetstream.PullHeartbeat(time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			w.mu.Lock()
			w.errs++
			w.lastErr = err.Error()
			w.mu.Unlock()
		}))
	if err != nil {
		tb.Fatalf("watcher: %v", err)
	}
	tb.Cleanup(cc.Stop)
	return w
}

func (w *faultWatch) handle(m jetstream.Msg) {
	now := time.Now()
	id, kind, ok := faultTerminalSubject(m.Subject())
	if !ok {
		return
	}
	md, err := m.Metadata()
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seqs[md.Sequence.Stream] {
		return // a redelivery to the watcher, not a second event
	}
	w.seqs[md.Sequence.Stream] = true
	w.got[id] = append(w.got[id], faultSighting{kind: kind, seq: md.Sequence.Stream, seen: now, stored: md.Timestamp})
}

// faultTerminalSubject parses aml.events.<lookupId>.<kind> for the terminal kinds.
func faultTerminalSubject(subject string) (id, kind string, ok bool) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != "aml" || parts[1] != "events" {
		return "", "", false
	}
	if kind = parts[3]; kind != "completed" && kind != "failed" {
		return "", "", false
	}
	return parts[2], kind, true
}

func (w *faultWatch) snapshot() map[string][]faultSighting {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string][]faultSighting, len(w.got))
	for k, v := range w.got {
		out[k] = slices.Clone(v)
	}
	return out
}

// waitEnded waits until every id has a terminal event, or timeout; the
// caller counts the ones still without one as lost.
func (w *faultWatch) waitEnded(ids []string, timeout time.Duration) {
	_ = testenv.Poll(timeout, func() error {
		got := w.snapshot()
		if i := slices.IndexFunc(ids, func(id string) bool { return len(got[id]) == 0 }); i >= 0 {
			return fmt.Errorf("%s has no terminal event yet", ids[i])
		}
		return nil
	})
}

func (w *faultWatch) errSummary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.errs == 0 {
		return "no consumer errors"
	}
	return fmt.Sprintf("%d consumer errors (last: %s)", w.errs, w.lastErr)
}

// faultAuditEvents reads AML_EVENTS from its start with a new ordered consumer
// and returns every event by lookupId.
func faultAuditEvents(ctx context.Context, js jetstream.JetStream) (map[string][]faultSighting, error) {
	s, err := js.Stream(ctx, "AML_EVENTS")
	if err != nil {
		return nil, err
	}
	last := s.CachedInfo().State.LastSeq
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
	if err != nil {
		return nil, err
	}
	out := map[string][]faultSighting{}
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return out, err
		}
		var n int
		var seq uint64
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return out, err
			}
			seq = md.Sequence.Stream
			if parts := strings.Split(m.Subject(), "."); len(parts) == 4 {
				ev := faultSighting{kind: parts[3], seq: seq, stored: md.Timestamp}
				var ce struct {
					Data struct {
						SessionID string `json:"sessionId"`
					} `json:"data"`
				}
				if json.Unmarshal(m.Data(), &ce) == nil {
					ev.session = ce.Data.SessionID
				}
				out[parts[2]] = append(out[parts[2]], ev)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return out, err
		}
		if n == 0 || seq >= last {
			return out, nil
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
}
