package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The independent client of these tests: plain nats.go and JSON, as a
// platform or a downstream service would use them, none of our packages.

// connect opens a JetStream context on natsURL, closed when the test ends.
func connect(t *testing.T, natsURL string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// event is a terminal CloudEvent as a consumer reads it.
type event struct {
	Kind string          `json:"-"` // completed or failed, from the subject
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// watchTerminal collects the terminal events of every lookup from
// AML_EVENTS, with an ordered consumer. The returned function gives a copy
// of what arrived so far, by lookupId.
func watchTerminal(t *testing.T, ctx context.Context, js jetstream.JetStream) func() map[string][]event {
	t.Helper()
	var mu sync.Mutex
	got := map[string][]event{}
	var cons jetstream.Consumer
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cons, err = js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		parts := strings.Split(m.Subject(), ".")
		kind := parts[len(parts)-1]
		if kind != "completed" && kind != "failed" {
			return
		}
		ev := event{Kind: kind}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Errorf("event on %s is not JSON: %v", m.Subject(), err)
			return
		}
		mu.Lock()
		got[parts[2]] = append(got[parts[2]], ev)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return func() map[string][]event {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string][]event, len(got))
		for k, v := range got {
			out[k] = append([]event(nil), v...)
		}
		return out
	}
}

// waitTerminal waits until n lookups have a terminal event, then a moment
// more for would-be duplicates.
func waitTerminal(t *testing.T, terminal func() map[string][]event, n int, timeout time.Duration) map[string][]event {
	t.Helper()
	for deadline := time.Now().Add(timeout); len(terminal()) < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal events for %d of %d lookups", len(terminal()), n)
		}
	}
	time.Sleep(time.Second)
	return terminal()
}
