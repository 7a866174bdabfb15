// Tests of how Consume acknowledges each outcome of a handler: ack, retry, term, panic, timeout.

package streams

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// markerDelay is how long a marker message waits, by a delayed Nak, before
// it comes back: longer than any backoff of the tests that use it, so that
// what would be redelivered within that window comes before it.
const markerDelay = 300 * time.Millisecond

func TestConsumeAcknowledgesByOutcome(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	deliveries := map[string]int{}
	actions := map[Action]int{}
	done := make(chan struct{}, 16)

	h := func(ctx context.Context, msg jetstream.Msg) Outcome {
		mu.Lock()
		deliveries[msg.Subject()]++
		n := deliveries[msg.Subject()]
		mu.Unlock()
		defer func() { done <- struct{}{} }()
		switch msg.Subject() {
		case "wq.ok":
			return Ack()
		case "wq.retry": // transient twice, then fine
			if n < 3 {
				return Retry(errors.New("upstream 503"), 50*time.Millisecond)
			}
			return Ack()
		case "wq.unclassified": // a retry without a delay once: backoff applies
			if n < 2 {
				return Retry(errors.New("surprise"), 0)
			}
			return Ack()
		case "wq.term":
			return Term(errors.New("bad input"))
		case "wq.panic":
			panic("boom")
		case "wq.marker": // once more after a window longer than the backoff, then fine
			if n < 2 {
				return Retry(errors.New("marker"), markerDelay)
			}
			return Ack()
		}
		return Retry(fmt.Errorf("unexpected subject %s", msg.Subject()), 0)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, h, ConsumeConfig{
			Name: "t", Concurrency: 2, DrainTimeout: testDrain, Backoff: Backoff{Initial: 50 * time.Millisecond, Max: time.Second},
			Observe: func(a Action, _ time.Duration) { mu.Lock(); actions[a]++; mu.Unlock() },
		})
	}()
	for _, s := range []string{"wq.ok", "wq.retry", "wq.unclassified", "wq.term", "wq.panic"} {
		if _, err := js.Publish(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	// ok 1 + retry 3 + unclassified 2 + term 1 + panic 1 = 8 handler calls.
	for i := 0; i < 8; i++ {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 8 deliveries: %v", i, deliveries)
		}
	}
	// Nothing is redelivered after that. The marker comes back markerDelay
	// after its first delivery, itself after the 8 above: a redelivery due
	// within that window (longer than the backoff) comes before it.
	if _, err := js.Publish(ctx, "wq.marker", nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := actions[ActAck] + actions[ActRetry] + actions[ActTerm] + actions[ActRelease]; deliveries["wq.marker"] < 2 || n < 10 {
			return fmt.Errorf("marker delivered %d times, %d outcomes: %v", deliveries["wq.marker"], n, actions)
		}
		return nil
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"wq.ok": 1, "wq.retry": 3, "wq.unclassified": 2, "wq.term": 1, "wq.panic": 1, "wq.marker": 2}
	for s, n := range want {
		if deliveries[s] != n {
			t.Errorf("%s delivered %d times, want %d", s, deliveries[s], n)
		}
	}
	// The panic is retried after PanicDelay, not terminated: its lookup
	// would be stranded. (The marker adds an ack and a retry.)
	if actions[ActAck] != 4 || actions[ActRetry] != 5 || actions[ActTerm] != 1 {
		t.Errorf("actions = %v, want ack 4, retry 5 (one the panic, one the marker), term 1", actions)
	}
	if n := streamMsgs(t, js); n != 1 {
		t.Errorf("work queue holds %d messages; want only the one that panicked, waiting", n)
	}
}

func TestDecide(t *testing.T) {
	bo := Backoff{Initial: time.Second, Max: 8 * time.Second}
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		o     Outcome
		n     uint64
		act   Action
		delay time.Duration
	}{
		{"ack", live, Ack(), 1, ActAck, 0},
		{"the zero outcome acks", live, Outcome{}, 1, ActAck, 0},
		{"retry with delay", live, Retry(errors.New("x"), 3*time.Second), 1, ActRetry, 3 * time.Second},
		{"retry without delay backs off", live, Retry(errors.New("x"), 0), 3, ActRetry, 4 * time.Second},
		{"term", live, Term(errors.New("x")), 1, ActTerm, 0},
		{"backs off, capped", live, Retry(errors.New("x"), 0), 10, ActRetry, 8 * time.Second},
		{"an ack during the drain stays an ack", ended, Ack(), 1, ActAck, 0},
		{"a retry cut short by the drain releases", ended, Retry(errors.New("x"), time.Minute), 1, ActRelease, 0},
		{"a term cut short by the drain stays a term", ended, Term(errors.New("x")), 1, ActTerm, 0},
	}
	for _, tt := range tests {
		act, d := Decide(tt.ctx, tt.o, tt.n, bo)
		if act != tt.act || d != tt.delay {
			t.Errorf("%s: Decide = %s %s, want %s %s", tt.name, act, d, tt.act, tt.delay)
		}
	}
}

func TestConsumeHandlerTimeoutRetriesTheMessage(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	h := func(ctx context.Context, msg jetstream.Msg) Outcome {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-ctx.Done() // a download that never moves again
			return Retry(ctx.Err(), 0)
		}
		close(done)
		return Ack()
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, h, ConsumeConfig{Name: "t", Concurrency: 1, DrainTimeout: testDrain, HandlerTimeout: 300 * time.Millisecond, Backoff: Backoff{Initial: 50 * time.Millisecond}})
	}()
	if _, err := js.Publish(ctx, "wq.stuck", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a handler stuck past its timeout was not retried")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
