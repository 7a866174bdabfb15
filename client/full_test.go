package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/streams"
)

// A full commands stream refuses a command with ErrCommandsFull and keeps
// every command it stored; a command larger than the stream takes is
// ErrCommandTooLarge. Both name the cause.
func TestSubmitToAFullCommandsStream(t *testing.T) {
	e := newClientEnv(t, func(tp *streams.Topology) { tp.CommandsMaxBytes, tp.CommandMaxMsgSize = 8<<10, 2<<10 })
	c, js, subjects := e.client, e.js, e.client.Subjects()
	ctx := context.Background()

	big := orgCmd
	big.LookupID, big.Metadata = "big", []byte(`{"note":"`+strings.Repeat("x", 4<<10)+`"}`)
	err := c.Submit(ctx, big)
	if !errors.Is(err, client.ErrCommandTooLarge) || errors.Is(err, client.ErrCommandsFull) || !strings.Contains(err.Error(), "COMMAND_MAX_MSG_SIZE") {
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
	if !errors.Is(err, client.ErrCommandsFull) || !strings.Contains(err.Error(), "the commands stream is full") ||
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
