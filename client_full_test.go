package kybflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// A full commands stream refuses a command with ErrCommandsFull and keeps
// every command it stored; a command larger than the stream takes is
// ErrCommandTooLarge. Both name the cause.
func TestSubmitToAFullCommandsStream(t *testing.T) {
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subjects, _ := kybflow.NewSubjects(kybflow.DefaultPrefix)
	if _, err := streams.Ensure(context.Background(), js, streams.Topology{
		Subjects: subjects, Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour, DeadLetterMaxAge: time.Hour,
		LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10,
		CommandsMaxBytes: 8 << 10, CommandMaxMsgSize: 2 << 10,
	}); err != nil {
		t.Fatal(err)
	}
	c, err := kybflow.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	big := orgCmd
	big.LookupID, big.Metadata = "big", []byte(`{"note":"`+strings.Repeat("x", 4<<10)+`"}`)
	err = c.Submit(ctx, big)
	if !errors.Is(err, kybflow.ErrCommandTooLarge) || errors.Is(err, kybflow.ErrCommandsFull) || !strings.Contains(err.Error(), "COMMAND_MAX_MSG_SIZE") {
		t.Errorf("a command over the stream's MaxMsgSize: %v, want ErrCommandTooLarge", err)
	}
	t.Logf("too large: %v", err)

	stored := 0
	for ; stored < 100; stored++ {
		cmd := orgCmd
		cmd.LookupID = fmt.Sprint("fill-", stored)
		if err = c.Submit(ctx, cmd); err != nil {
			break
		}
	}
	if !errors.Is(err, kybflow.ErrCommandsFull) || !strings.Contains(err.Error(), "the commands stream is full") ||
		!strings.Contains(err.Error(), "maximum bytes exceeded") {
		t.Fatalf("after %d commands in a stream of 8 KiB: %v, want ErrCommandsFull naming JetStream's cause", stored, err)
	}
	t.Logf("full after %d: %v", stored, err)
	st, err := js.Stream(ctx, subjects.CommandsStream())
	if err != nil {
		t.Fatal(err)
	}
	if s := st.CachedInfo().State; s.Msgs != uint64(stored) || s.FirstSeq != 1 {
		t.Errorf("the full stream holds %d commands from %d, want every one stored, %d from 1", s.Msgs, s.FirstSeq, stored)
	}
}
