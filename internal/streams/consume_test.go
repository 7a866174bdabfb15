// The work queue the Consume tests share, and the check of Consume's required settings.

package streams

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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

func TestConsumeRequiresItsSettings(t *testing.T) {
	js := testenv.JetStream(t)
	cons := workQueue(t, js, 5*time.Second)
	h := func(context.Context, jetstream.Msg) Outcome { return Ack() }
	for _, cfg := range []ConsumeConfig{{Name: "t", DrainTimeout: testDrain}, {Name: "t", Concurrency: 1}} {
		if err := Consume(context.Background(), cons, h, cfg); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("Consume(%+v) = %v, want an error naming what is required", cfg, err)
		}
	}
}
