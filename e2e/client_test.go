package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// The independent client of these tests: plain nats.go and JSON, as a
// platform or a downstream service would use them, none of our packages
// (testenv only waits).

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

// watcher collects the terminal events of every lookup from AML_EVENTS,
// with an ordered consumer.
type watcher struct {
	ctx  context.Context
	js   jetstream.JetStream
	mu   sync.Mutex
	got  map[string][]event // by lookupId
	read uint64             // the stream sequence of the last event read
}

// watchTerminal starts a watcher on AML_EVENTS, stopped when the test ends.
func watchTerminal(t *testing.T, ctx context.Context, js jetstream.JetStream) *watcher {
	t.Helper()
	w := &watcher{ctx: ctx, js: js, got: map[string][]event{}}
	var cons jetstream.Consumer
	testenv.Eventually(t, 10*time.Second, func() (err error) { // the worker makes the stream
		cons, err = js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
		return err
	})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		parts := strings.Split(m.Subject(), ".")
		kind := parts[len(parts)-1]
		var ev event
		terminal := kind == "completed" || kind == "failed"
		if terminal {
			ev.Kind = kind
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Errorf("event on %s is not JSON: %v", m.Subject(), err)
				terminal = false
			}
		}
		w.mu.Lock()
		if terminal {
			w.got[parts[2]] = append(w.got[parts[2]], ev)
		}
		w.read = max(w.read, seq)
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return w
}

// terminal gives a copy of the terminal events so far, by lookupId.
func (w *watcher) terminal() map[string][]event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string][]event, len(w.got))
	for k, v := range w.got {
		out[k] = append([]event(nil), v...)
	}
	return out
}

// settled is nil once nothing more can come of the lookups so far: the
// sandbox at sandboxAddr has no webhook queued, the worker's consumers have
// nothing to deliver and nothing delivered but not acknowledged (what a
// killed worker held included: it comes back after the ack wait), and the
// watcher has read AML_EVENTS to its end. Whatever the work would still
// publish (an ending twice) it publishes before it acknowledges.
func (w *watcher) settled(t *testing.T, sandboxAddr string) error {
	t.Helper()
	if n := webhooksPending(t, sandboxAddr); n != 0 {
		return fmt.Errorf("the sandbox has %d webhooks queued", n)
	}
	for stream, name := range map[string]string{"AML_COMMANDS": "worker-commands", "AML_CHECKS": "worker-checks", "AML_WEBHOOKS": "worker-webhooks"} {
		cons, err := w.js.Consumer(w.ctx, stream, name)
		if err != nil {
			return fmt.Errorf("consumer %s: %w", name, err)
		}
		info, err := cons.Info(w.ctx)
		if err != nil {
			return fmt.Errorf("consumer %s: %w", name, err)
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("consumer %s: %d to deliver, %d not acknowledged", name, info.NumPending, info.NumAckPending)
		}
	}
	stream, err := w.js.Stream(w.ctx, "AML_EVENTS")
	if err != nil {
		return err
	}
	info, err := stream.Info(w.ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.read < info.State.LastSeq {
		return fmt.Errorf("events read up to %d of %d", w.read, info.State.LastSeq)
	}
	return nil
}

// waitTerminal waits until n lookups have a terminal event, then until
// nothing more can come of them (settled), for would-be duplicates.
func waitTerminal(t *testing.T, w *watcher, sandboxAddr string, n int, timeout time.Duration) map[string][]event {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		if got := len(w.terminal()); got < n {
			return fmt.Errorf("terminal events for %d of %d lookups", got, n)
		}
		return nil
	})
	testenv.Eventually(t, time.Minute, func() error { return w.settled(t, sandboxAddr) })
	return w.terminal()
}

// webhooksPending is how many webhooks the sandbox has queued.
func webhooksPending(t *testing.T, sandboxAddr string) int {
	t.Helper()
	resp, err := http.Get("http://" + sandboxAddr + "/_sandbox/inspect")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ins struct {
		WebhooksPending int `json:"webhooksPending"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ins); err != nil {
		t.Fatal(err)
	}
	return ins.WebhooksPending
}
