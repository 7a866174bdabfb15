package worker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestOneLookupsWritesAndPublishes counts what one lookup costs NATS on its
// happy path (results ready at the first poll, which the command that
// opened the session makes itself): the record is written three times
// (created claimed; the session; the ending, with no mark after its event:
// the events stream says it is out), and never read; three events are
// published, and no check. docs/design.md explains each write; a fourth is
// a regression.
func TestOneLookupsWritesAndPublishes(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{ReadyAfter: time.Nanosecond, ReportInterval: time.Nanosecond}})
	e.start(false, 1)
	e.publish(cmd{LookupID: "counted", Type: "organization", Country: "NO", Identifier: "923609016", Reports: []string{"aml"}}, "")
	if ev := e.terminal("counted", 30*time.Second); ev.Type != kybflow.KindCompleted.EventType() {
		t.Fatalf("terminal event %s, want completed", ev.Type)
	}
	testenv.Eventually(t, 10*time.Second, func() error { return e.consumerIdle(streams.ConsumerChecks) })
	testenv.Eventually(t, 10*time.Second, func() error { return e.consumerIdle(streams.ConsumerCommands) })

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	subjects := kybflow.Subjects{}
	count := func(stream, subject string) uint64 {
		t.Helper()
		s, err := e.js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if subject == "" {
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return info.State.LastSeq // every message ever stored, deleted ones too
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	// The bucket holds this lookup alone: its last sequence is the number
	// of writes of its record.
	if n := count("KV_"+streams.NamesOf(subjects).LookupsBucket(), ""); n != 3 {
		t.Errorf("the lookup's record was written %d times, want 3", n)
	}
	if n := count(subjects.EventsStream(), subjects.EventsFor("counted")); n != 3 {
		t.Errorf("%d events published, want 3 (accepted, session_opened, completed)", n)
	}
	if n := count(streams.NamesOf(subjects).ChecksStream(), ""); n != 0 {
		t.Errorf("%d check messages published, want none", n)
	}
}
