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
	// Nothing is redelivered after that: wait a little longer than the backoff.
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"wq.ok": 1, "wq.retry": 3, "wq.unclassified": 2, "wq.term": 1, "wq.panic": 1}
	for s, n := range want {
		if deliveries[s] != n {
			t.Errorf("%s delivered %d times, want %d", s, deliveries[s], n)
		}
	}
	// The panic is retried after PanicDelay, not terminated: its lookup
	// would be stranded.
	if actions[ActAck] != 3 || actions[ActRetry] != 4 || actions[ActTerm] != 1 {
		t.Errorf("actions = %v, want ack 3, retry 4 (one the panic), term 1", actions)
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
	h := func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			defer calls.Done()
		}
		time.Sleep(1800 * time.Millisecond)
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Consume(ctx, cons, h, ConsumeConfig{Name: "t", Concurrency: 1, DrainTimeout: testDrain})
	}()
	if _, err := js.Publish(ctx, "wq.long", nil); err != nil {
		t.Fatal(err)
	}
	calls.Wait()
	time.Sleep(200 * time.Millisecond)
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
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		got = len(handled)
		mu.Unlock()
		if got == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 5 messages handled after the drain: %v", got, handled)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
		{"unclassified during shutdown releases", ended, errors.New("x"), 1, ActRelease, 0},
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
	h := func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		seen[msg.Subject()]++
		mu.Unlock()
		time.Sleep(2 * time.Second) // longer than the ack wait; kept alive by InProgress
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
	time.Sleep(500 * time.Millisecond)
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
