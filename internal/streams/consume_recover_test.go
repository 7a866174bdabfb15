// Tests of Consume riding out server trouble: a deleted consumer, a restarted server.

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
		errc <- Consume(ctx, cons, func(_ context.Context, m jetstream.Msg) Outcome { handled <- m.Subject(); return Ack() }, ConsumeConfig{
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
		errc <- Consume(ctx, cons, func(_ context.Context, m jetstream.Msg) Outcome {
			mu.Lock()
			seen[m.Subject()]++
			mu.Unlock()
			return Ack()
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
