package deadletters_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/deadletters"
)

// command is the command stored at seq of the commands stream.
func (e *env) command(seq uint64) *jetstream.RawStreamMsg {
	e.t.Helper()
	s, err := e.js.Stream(e.ctx, e.s.CommandsStream())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetMsg(e.ctx, seq)
	if err != nil {
		e.t.Fatalf("command %d: %v", seq, err)
	}
	return m
}

func TestReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	get := func(seq uint64) deadletters.DeadLetter {
		t.Helper()
		d, err := e.dl.Get(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	fixed := `{"lookupId":"r-1","type":"organization","identifier":"923609016"}`

	t.Run("a body as it is, to a tenant's subject", func(t *testing.T) {
		seq := e.deadLetter("aml.commands.lookup.acme", fixed)
		r, err := e.dl.Replay(ctx, get(seq), nil)
		if err != nil || r.LookupID != "r-1" || r.Invalid != nil || r.Subject != "aml.commands.lookup.acme" || r.Stream != "AML_COMMANDS" ||
			r.MsgID != deadletters.MsgID("AML_DEADLETTER", seq) || r.Bytes != len(fixed) || r.Duplicate || !r.Deleted {
			t.Fatalf("Replay = %+v, %v", r, err)
		}
		m := e.command(r.Sequence)
		if string(m.Data) != fixed || m.Subject != r.Subject || m.Header.Get(nats.MsgIdHdr) != "replay-AML_DEADLETTER-"+strconv.FormatUint(seq, 10) {
			t.Errorf("stored command %s %q %v", m.Subject, m.Data, m.Header)
		}
		if _, err := e.dl.Get(ctx, seq); !errors.Is(err, deadletters.ErrNotFound) {
			t.Errorf("the dead letter is left: %v", err)
		}
	})

	t.Run("a corrected body, from another subject, invalid otherwise", func(t *testing.T) {
		seq := e.deadLetter("aml.commands.other", `not json`)
		r, err := e.dl.Replay(ctx, get(seq), []byte(`{"lookupId":"r-2","type":"organization","identifier":"923609017"}`))
		if err != nil || r.LookupID != "r-2" || r.Subject != "aml.commands.lookup" || r.Invalid == nil || r.Invalid.Code != kybflow.CodeInvalidIdentifier {
			t.Fatalf("Replay = %+v, %v; want r-2 to aml.commands.lookup, invalid_identifier", r, err)
		}
	})

	t.Run("what is not replayed", func(t *testing.T) {
		truncated := get(e.deadLetter("aml.commands.lookup", `{"lookupId":"r-3","metadata":`, kybflow.HeaderDeadLetterTruncated, "true",
			kybflow.HeaderDeadLetterSize, "70000"))
		if _, err := e.dl.Replay(ctx, truncated, nil); !errors.Is(err, deadletters.ErrTruncated) || !strings.Contains(err.Error(), "70000 bytes") {
			t.Errorf("a truncated one as it is: %v, want ErrTruncated with its size", err)
		}
		unreadable := get(e.deadLetter("aml.commands.lookup", `{"type":"organization"}`))
		for _, body := range [][]byte{nil, []byte(`{"lookupId":"a.b"}`)} {
			if _, err := e.dl.Replay(ctx, unreadable, body); !errors.Is(err, deadletters.ErrUnreadable) {
				t.Errorf("Replay(%q) of an unreadable one: %v, want ErrUnreadable", body, err)
			}
		}
		for _, d := range []deadletters.DeadLetter{truncated, unreadable} {
			if _, err := e.dl.Get(ctx, d.Seq); err != nil {
				t.Errorf("dead letter %d not replayed, but gone: %v", d.Seq, err)
			}
		}
		// With the whole command, the truncated one is replayed.
		if r, err := e.dl.Replay(ctx, truncated, []byte(fixed)); err != nil || !r.Deleted {
			t.Errorf("the truncated one with a body: %+v, %v", r, err)
		}
	})

	t.Run("a replay whose first copy was stored is not sent twice", func(t *testing.T) {
		seq := e.deadLetter("aml.commands.lookup", fixed)
		first, err := e.js.Publish(ctx, "aml.commands.lookup", []byte(fixed), jetstream.WithMsgID(deadletters.MsgID("AML_DEADLETTER", seq)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.dl.Replay(ctx, get(seq), nil)
		if err != nil || !r.Duplicate || r.Sequence != first.Sequence || !r.Deleted {
			t.Errorf("Replay = %+v, %v; want a duplicate of %d, and the dead letter deleted", r, err, first.Sequence)
		}
	})
}
