// Tests of long work kept alive, of taking only what can start, and of the drain on stop.

package streams

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestConsumeKeepsLongWorkAlive(t *testing.T) {
	js := testenv.JetStream(t)
	// The handler runs 3 ack waits. The ack wait is long enough that a
	// machine busy with the rest of the suite does not delay a keep-alive
	// (every third of it) past it: 600 ms did, once.
	cons := workQueue(t, js, 1500*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls sync.WaitGroup
	calls.Add(1)
	var n int
	var mu sync.Mutex
	marker := make(chan struct{}, 1)
	h := func(ctx context.Context, msg jetstream.Msg) Outcome {
		if msg.Subject() == "wq.marker" {
			select {
			case marker <- struct{}{}:
			default:
			}
			return Ack()
		}
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			defer calls.Done()
		}
		time.Sleep(4500 * time.Millisecond) // sleep: the long work itself: three ack waits, which only InProgress can span
		return Ack()
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, h, ConsumeConfig{Name: "t", Concurrency: 2, DrainTimeout: testDrain}) // a free slot would take a redelivery
	}()
	if _, err := js.Publish(ctx, "wq.long", nil); err != nil {
		t.Fatal(err)
	}
	calls.Wait()
	// A redelivery of the long message would come before a message
	// published after its work ended: the server sends redeliveries first.
	if _, err := js.Publish(ctx, "wq.marker", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-marker:
	case <-time.After(10 * time.Second):
		t.Fatal("the marker published after the long work was not handled")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Fatalf("long handler ran %d times; InProgress should have kept the message from redelivery", n)
	}
}

// TestConsumeTakesOnlyWhatItCanStart: with handlers that outlast the ack
// wait and more messages than slots, no message waits in our hands without
// keep-alives, so none is redelivered and handled twice.
func TestConsumeTakesOnlyWhatItCanStart(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 1500*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := map[string]int{}
	total := make(chan struct{}, 16)
	marker := make(chan struct{}, 1)
	h := func(ctx context.Context, msg jetstream.Msg) Outcome {
		mu.Lock()
		seen[msg.Subject()]++
		mu.Unlock()
		if msg.Subject() == "wq.marker" {
			select {
			case marker <- struct{}{}:
			default:
			}
			return Ack()
		}
		time.Sleep(2 * time.Second) // sleep: the long work itself: longer than the ack wait; kept alive by InProgress
		total <- struct{}{}
		return Ack()
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, h, ConsumeConfig{Name: "t", Concurrency: 2, DrainTimeout: testDrain})
	}()
	for i := 0; i < 4; i++ {
		if _, err := js.Publish(ctx, fmt.Sprintf("wq.long%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		select {
		case <-total:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 4 handled", i)
		}
	}
	// A message redelivered after it waited too long, on the server or in a
	// buffer of ours, comes before one published now.
	if _, err := js.Publish(ctx, "wq.marker", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-marker:
	case <-time.After(10 * time.Second):
		t.Fatal("the marker published after the work was not handled")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times: it waited in a buffer past its ack wait", s, n)
		}
	}
}

func TestConsumeDrainFinishesInFlightAndAnotherConsumerTheRest(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())

	started := make(chan struct{}, 8)
	finish := make(chan struct{})
	var mu sync.Mutex
	handled := map[string]int{}
	h := func(ctx context.Context, msg jetstream.Msg) Outcome {
		started <- struct{}{}
		<-finish
		mu.Lock()
		handled[msg.Subject()]++
		mu.Unlock()
		return Ack()
	}
	for i := 0; i < 5; i++ {
		if _, err := js.Publish(context.Background(), fmt.Sprintf("wq.%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, h, ConsumeConfig{Name: "first", Concurrency: 2, DrainTimeout: testDrain})
	}()
	<-started
	<-started
	cancel() // SIGTERM: take no new work
	// The in-flight work goes on past the stop for a while: a Consume that
	// returned without draining would have returned meanwhile. Nothing marks
	// that it waits, so this checks that nothing happens within a window.
	time.Sleep(200 * time.Millisecond) // sleep: a window in which a Consume that does not drain would return (nothing marks that it waits)
	close(finish)                      // in-flight work finishes
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := len(handled)
	mu.Unlock()
	if got != 2 {
		t.Fatalf("handled %d messages during the drain, want the 2 in flight", got)
	}

	// Another replica finishes the rest: what the drain gave back at once,
	// and what the server had already sent to the stopped consumer, which
	// comes back after the ack wait.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() {
		errc <- Consume(ctx2, cons, h, ConsumeConfig{Name: "second", Concurrency: 2, DrainTimeout: testDrain})
	}()
	testenv.Eventually(t, 15*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(handled) != 5 {
			return fmt.Errorf("only %d of 5 messages handled after the drain: %v", len(handled), handled)
		}
		return nil
	})
	cancel2()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for s, n := range handled {
		if n != 1 {
			t.Errorf("%s handled %d times", s, n)
		}
	}
	if n := streamMsgs(t, js); n != 0 {
		t.Errorf("stream holds %d messages, want 0", n)
	}
}
