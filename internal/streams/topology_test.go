// Bounded streams: what Ensure makes, what a full stream does, and an
// upgrade of streams made before the bounds.

package streams

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/testenv"
)

// boundedTopology is a topology with small bounds, for filling streams.
func boundedTopology(t *testing.T) Topology {
	t.Helper()
	s, err := kybflow.NewSubjects(kybflow.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return Topology{
		Subjects: s, Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour, DeadLetterMaxAge: time.Hour,
		LookupsMaxAge: time.Hour, AckWait: 5 * time.Second, WebhookMaxDeliver: 3,
		CommandsMaxBytes: 8 << 10, ChecksMaxBytes: 16 << 10, WebhooksMaxBytes: 8 << 10, EventsMaxBytes: 64 << 10,
		DeadLetterMaxBytes: 32 << 10, LookupsMaxBytes: 128 << 10, CommandMaxMsgSize: 2 << 10, WebhookMaxMsgSize: 3 << 10,
	}
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamInfo {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return *info
}

func TestEnsureBoundsEveryStreamAndTheBucket(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)
	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		stream     string
		maxBytes   int64
		maxMsgSize int32
		discard    jetstream.DiscardPolicy
	}{
		{"AML_COMMANDS", topo.CommandsMaxBytes, topo.CommandMaxMsgSize, jetstream.DiscardNew},
		{"AML_CHECKS", topo.ChecksMaxBytes, -1, jetstream.DiscardNew},
		{"AML_WEBHOOKS", topo.WebhooksMaxBytes, topo.WebhookMaxMsgSize, jetstream.DiscardOld},
		{"AML_EVENTS", topo.EventsMaxBytes, -1, jetstream.DiscardNew},
		{"AML_DEADLETTER", topo.DeadLetterMaxBytes, -1, jetstream.DiscardNew},
		{"KV_AML_LOOKUPS", topo.LookupsMaxBytes, -1, jetstream.DiscardNew},
	} {
		c := streamConfig(t, js, want.stream).Config
		if c.MaxBytes != want.maxBytes || c.MaxMsgSize != want.maxMsgSize || c.Discard != want.discard {
			t.Errorf("%s: MaxBytes %d, MaxMsgSize %d, Discard %v; want %d, %d, %v", want.stream, c.MaxBytes, c.MaxMsgSize, c.Discard, want.maxBytes, want.maxMsgSize, want.discard)
		}
	}
	// Again, as every replica does at start: an identical configuration.
	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatalf("ensure again: %v", err)
	}
}

// A full stream that discards new messages refuses a publish with
// JetStream's store error (10077, "maximum bytes exceeded") and keeps every
// message it holds; a message over MaxMsgSize is refused with 10054. The
// webhooks stream drops its oldest instead.
func TestFullStreamRefusesNewMessagesAndKeepsItsOwn(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)
	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err := js.Publish(ctx, "aml.commands.lookup", bytes.Repeat([]byte("c"), int(topo.CommandMaxMsgSize)+1))
	if !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		t.Errorf("publish over MaxMsgSize: %v, want ErrStreamMessageExceedsMaximum (10054)", err)
	} else {
		t.Logf("publish over MaxMsgSize: %v", err)
	}

	body := bytes.Repeat([]byte("c"), 1000)
	var stored int
	var full error
	for i := range 20 {
		_, err := js.Publish(ctx, "aml.commands.lookup", body, jetstream.WithMsgID(fmt.Sprint("cmd-", i)))
		if err != nil {
			full = err
			break
		}
		stored++
	}
	if full == nil {
		t.Fatal("20 commands of 1000 bytes fit in a stream of 8 KiB")
	}
	t.Logf("publish to a full stream (%d stored): %v", stored, full)
	var api *jetstream.APIError
	if !errors.As(full, &api) || api.ErrorCode != 10077 || api.Description != "maximum bytes exceeded" {
		t.Errorf("publish to a full stream: %#v, want JetStream's 10077 maximum bytes exceeded", full)
	}
	if got := streamConfig(t, js, "AML_COMMANDS").State; got.Msgs != uint64(stored) || got.FirstSeq != 1 {
		t.Errorf("full commands stream holds %d messages from %d, want all %d from 1", got.Msgs, got.FirstSeq, stored)
	}

	// The bucket refuses a new key, and still takes a record's new
	// revision of the same size: lookups in flight go on, new ones wait.
	res, err := Ensure(ctx, js, topo) // the handles
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("r"), 1000)
	var keys int
	for ; ; keys++ {
		if _, err = res.Lookups.Create(ctx, fmt.Sprint("lookup-", keys), value); err != nil {
			break
		}
		if keys > 200 {
			t.Fatal("200 records of 1000 bytes fit in a bucket of 128 KiB")
		}
	}
	if !errors.As(err, &api) || api.ErrorCode != 10077 {
		t.Errorf("create in a full bucket: %v, want 10077 maximum bytes exceeded", err)
	}
	if _, err := res.Lookups.Put(ctx, "lookup-0", value); err != nil {
		t.Errorf("update of a record in a full bucket: %v", err)
	}

	// Webhooks: the newest is kept, the oldest dropped.
	for i := range 20 {
		if _, err := js.Publish(ctx, fmt.Sprint("aml.webhooks.l", i), body); err != nil {
			t.Fatalf("webhook %d: %v (the webhooks stream drops its oldest instead)", i, err)
		}
	}
	if got := streamConfig(t, js, "AML_WEBHOOKS").State; got.LastSeq != 20 || got.FirstSeq == 1 || got.Bytes > uint64(topo.WebhooksMaxBytes) {
		t.Errorf("webhooks stream after 20 publishes: %+v, want the newest within %d bytes", got, topo.WebhooksMaxBytes)
	}
}

// Streams made before the bounds (an upgrade) are updated in place and keep
// what they hold. One that already holds more than its new bound is left
// as it is, and Ensure fails at once naming the setting: updating it would
// make it refuse every new message.
func TestEnsureUpgradesStreamsMadeWithoutBounds(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	unbounded := boundedTopology(t)
	unbounded.CommandsMaxBytes, unbounded.ChecksMaxBytes, unbounded.WebhooksMaxBytes = 0, 0, 0
	unbounded.EventsMaxBytes, unbounded.DeadLetterMaxBytes, unbounded.LookupsMaxBytes = 0, 0, 0
	unbounded.CommandMaxMsgSize, unbounded.WebhookMaxMsgSize = 0, 0
	for _, cfg := range unbounded.streams() {
		cfg.Discard = jetstream.DiscardOld // as the streams were made before
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, unbounded.bucket()); err != nil {
		t.Fatal(err)
	}
	if c := streamConfig(t, js, "AML_EVENTS").Config; c.MaxBytes != -1 || c.Discard != jetstream.DiscardOld {
		t.Fatalf("unbounded events stream: MaxBytes %d, Discard %v", c.MaxBytes, c.Discard)
	}
	for i := range 10 {
		if _, err := js.Publish(ctx, fmt.Sprintf("aml.events.l%d.accepted", i), bytes.Repeat([]byte("e"), 1000)); err != nil {
			t.Fatal(err)
		}
	}
	held := streamConfig(t, js, "AML_EVENTS").State.Bytes

	topo := boundedTopology(t)
	if _, err := Ensure(ctx, js, topo); err != nil {
		t.Fatalf("ensure bounds on streams made without them: %v", err)
	}
	if got := streamConfig(t, js, "AML_EVENTS"); got.Config.MaxBytes != topo.EventsMaxBytes || got.Config.Discard != jetstream.DiscardNew || got.State.Bytes != held {
		t.Errorf("events stream after the upgrade: MaxBytes %d, Discard %v, %d bytes; want %d, DiscardNew, the %d it held",
			got.Config.MaxBytes, got.Config.Discard, got.State.Bytes, topo.EventsMaxBytes, held)
	}

	lower := topo
	lower.EventsMaxBytes = int64(held) / 2
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Ensure(ctx, js, lower)
	if !errors.Is(err, ErrHoldsMore) || !strings.Contains(err.Error(), "EVENTS_MAX_BYTES") {
		t.Fatalf("ensure a bound below what the events stream holds: %v, want ErrHoldsMore naming EVENTS_MAX_BYTES", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Ensure took %s to refuse; want at once (not retried)", d)
	}
	t.Logf("lowered below what it holds: %v", err)
	if got := streamConfig(t, js, "AML_EVENTS").Config.MaxBytes; got != topo.EventsMaxBytes {
		t.Errorf("events stream's MaxBytes became %d; want it left at %d", got, topo.EventsMaxBytes)
	}
}

// Bounds more than the server has room for fail Ensure at once (JetStream
// reserves MaxBytes at creation), instead of being retried until the
// start-up deadline.
func TestEnsureFailsAtOnceWhenTheBoundsDoNotFit(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)
	topo.EventsMaxBytes = 1 << 60
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Ensure(ctx, js, topo)
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != 10047 {
		t.Fatalf("ensure a stream larger than the server's store: %v, want 10047 insufficient storage resources", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Ensure took %s to fail; want at once (not retried)", d)
	}
}

func TestTopologyRefusesMessagesLargerThanTheirStream(t *testing.T) {
	topo := boundedTopology(t)
	topo.CommandMaxMsgSize = int32(topo.CommandsMaxBytes) + 1
	if err := topo.validate(); err == nil {
		t.Error("validate accepted a MaxMsgSize above the stream's MaxBytes")
	}
	topo = boundedTopology(t)
	topo.EventsMaxBytes = -1
	if err := topo.validate(); err == nil {
		t.Error("validate accepted a negative MaxBytes")
	}
}
