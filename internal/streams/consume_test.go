package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/natsembed"
	"github.com/kybflow/kybflow/internal/testenv"
)

// testDrain is the drain timeout of the loops under test.
const testDrain = 5 * time.Second

// workQueue makes a work-queue stream and a durable consumer on it, as the
// worker does.
func workQueue(t *testing.T, js jetstream.JetStream, ackWait time.Duration) jetstream.Consumer {
	t.Helper()
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "WQ", Subjects: []string{"wq.>"}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "WQ", jetstream.ConsumerConfig{
		Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), "WQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

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

	h := func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		deliveries[msg.Subject()]++
		n := deliveries[msg.Subject()]
		mu.Unlock()
		defer func() { done <- struct{}{} }()
		switch msg.Subject() {
		case "wq.ok":
			return nil
		case "wq.retry": // transient twice, then fine
			if n < 3 {
				return Retry(errors.New("upstream 503"), 50*time.Millisecond)
			}
			return nil
		case "wq.unclassified": // unclassified once: backoff applies
			if n < 2 {
				return errors.New("surprise")
			}
			return nil
		case "wq.term":
			return Term(errors.New("bad input"))
		case "wq.panic":
			panic("boom")
		case "wq.marker": // once more after a window longer than the backoff, then fine
			if n < 2 {
				return Retry(errors.New("marker"), markerDelay)
			}
			return nil
		}
		return fmt.Errorf("unexpected subject %s", msg.Subject())
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

func TestConsumeKeepsLongWorkAlive(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 600*time.Millisecond) // handler runs 3 ack waits
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls sync.WaitGroup
	calls.Add(1)
	var n int
	var mu sync.Mutex
	marker := make(chan struct{}, 1)
	h := func(ctx context.Context, msg jetstream.Msg) error {
		if msg.Subject() == "wq.marker" {
			select {
			case marker <- struct{}{}:
			default:
			}
			return nil
		}
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			defer calls.Done()
		}
		time.Sleep(1800 * time.Millisecond) // the long work itself: three ack waits, which only InProgress can span
		return nil
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

func TestConsumeDrainFinishesInFlightAndAnotherConsumerTheRest(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())

	started := make(chan struct{}, 8)
	finish := make(chan struct{})
	var mu sync.Mutex
	handled := map[string]int{}
	h := func(ctx context.Context, msg jetstream.Msg) error {
		started <- struct{}{}
		<-finish
		mu.Lock()
		handled[msg.Subject()]++
		mu.Unlock()
		return nil
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
	time.Sleep(200 * time.Millisecond)
	close(finish) // in-flight work finishes
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

func TestDecide(t *testing.T) {
	bo := Backoff{Initial: time.Second, Max: 8 * time.Second}
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		err   error
		n     uint64
		act   Action
		delay time.Duration
	}{
		{"nil acks", live, nil, 1, ActAck, 0},
		{"retry with delay", live, Retry(errors.New("x"), 3*time.Second), 1, ActRetry, 3 * time.Second},
		{"retry without delay backs off", live, Retry(errors.New("x"), 0), 3, ActRetry, 4 * time.Second},
		{"wrapped term", live, fmt.Errorf("ctx: %w", Term(errors.New("x"))), 1, ActTerm, 0},
		{"unclassified backs off, capped", live, errors.New("x"), 10, ActRetry, 8 * time.Second},
		{"unclassified, cut short by the drain, releases", ended, errors.New("x"), 1, ActRelease, 0},
		{"a retry cut short by the drain releases", ended, Retry(errors.New("x"), time.Minute), 1, ActRelease, 0},
		{"a term cut short by the drain stays a term", ended, Term(errors.New("x")), 1, ActTerm, 0},
	}
	for _, tt := range tests {
		act, d := Decide(tt.ctx, tt.err, tt.n, bo)
		if act != tt.act || d != tt.delay {
			t.Errorf("%s: Decide = %s %s, want %s %s", tt.name, act, d, tt.act, tt.delay)
		}
	}
}

// A consumer deleted by hand is made again by the loop, which never
// returns meanwhile; its Health says it cannot pull until it can again.
func TestConsumeRecreatesADeletedConsumer(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var health Health
	var recreated atomic.Int32
	handled := make(chan string, 4)
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, func(_ context.Context, m jetstream.Msg) error { handled <- m.Subject(); return nil }, ConsumeConfig{
			Name: "t", Health: &health, Concurrency: 1, DrainTimeout: testDrain,
			Recreate: func(ctx context.Context) (jetstream.Consumer, error) {
				recreated.Add(1)
				return js.CreateOrUpdateConsumer(ctx, "WQ", jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: -1})
			},
		})
	}()
	if err := health.Check(ctx); err == nil || !strings.Contains(err.Error(), "not pulling yet") {
		t.Errorf("health before the first pull = %v, want not pulling yet", err)
	}
	testenv.Eventually(t, 10*time.Second, func() error { return health.Check(ctx) })
	if err := js.DeleteConsumer(ctx, "WQ", "w"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if recreated.Load() == 0 {
			return errors.New("the consumer was not made again")
		}
		return nil
	})
	if _, err := js.Publish(ctx, "wq.after", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-handled:
		if s != "wq.after" {
			t.Errorf("handled %s", s)
		}
	case err := <-errc:
		t.Fatalf("Consume returned (%v) instead of making its consumer again", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no message handled after the consumer was made again")
	}
	testenv.Eventually(t, 10*time.Second, func() error { return health.Check(ctx) })
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Consume = %v after a stop", err)
	}
}

// A NATS server stopped mid-run and started again on the same store
// directory: the loop waits (not ready meanwhile), then goes on, and what
// was published before and after is handled once.
func TestConsumeRidesOutAServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	port, _ := strconv.Atoi(url[strings.LastIndexByte(url, ':')+1:])
	defer func() { srv.Shutdown() }()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons := workQueue(t, js, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var health Health
	var mu sync.Mutex
	seen := map[string]int{}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, func(_ context.Context, m jetstream.Msg) error {
			mu.Lock()
			seen[m.Subject()]++
			mu.Unlock()
			return nil
		}, ConsumeConfig{Name: "t", Health: &health, Concurrency: 2, DrainTimeout: testDrain})
	}()
	count := func(want int) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(seen) < want {
				return fmt.Errorf("%d of %d messages handled", len(seen), want)
			}
			return nil
		}
	}
	if _, err := js.Publish(ctx, "wq.before", nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, count(1))

	srv.Shutdown()
	testenv.Eventually(t, 10*time.Second, func() error {
		if health.Check(ctx) == nil {
			return errors.New("still ready with the server down")
		}
		return nil
	})
	if srv, err = natsembed.Start(natsembed.Config{StoreDir: dir, Port: port}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error { return health.Check(ctx) })
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if _, err := js.Publish(pctx, "wq.after", nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, count(2))
	select {
	case err := <-errc:
		t.Fatalf("Consume returned during the restart: %v", err)
	default:
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", s, n)
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
	h := func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-ctx.Done() // a download that never moves again
			return ctx.Err()
		}
		close(done)
		return nil
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
	h := func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		seen[msg.Subject()]++
		mu.Unlock()
		if msg.Subject() == "wq.marker" {
			select {
			case marker <- struct{}{}:
			default:
			}
			return nil
		}
		time.Sleep(2 * time.Second) // the long work itself: longer than the ack wait; kept alive by InProgress
		total <- struct{}{}
		return nil
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

func TestConsumeRequiresItsSettings(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 5*time.Second)
	h := func(context.Context, jetstream.Msg) error { return nil }
	for _, cfg := range []ConsumeConfig{{Name: "t", DrainTimeout: testDrain}, {Name: "t", Concurrency: 1}} {
		if err := Consume(context.Background(), cons, h, cfg); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("Consume(%+v) = %v, want an error naming what is required", cfg, err)
		}
	}
}
