package deadletters_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/deadletters"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// env is a deployment's topology on an embedded NATS server, without a
// worker: dead letters are published by hand, as the worker publishes them
// (internal/handler's deadLetter).
type env struct {
	t   *testing.T
	ctx context.Context
	js  jetstream.JetStream
	s   kybflow.Subjects
	dl  *deadletters.Stream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := testenv.JetStream(t)
	if _, err := streams.Ensure(t.Context(), js, streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour,
		DeadLetterMaxAge: time.Hour, LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10}); err != nil {
		t.Fatal(err)
	}
	dl, err := deadletters.Open(t.Context(), js, kybflow.Subjects{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: t.Context(), js: js, dl: dl}
}

// deadLetter publishes body as the dead letter of a command published on
// subject ("" for no subject header), with more headers in kv, and
// returns its sequence.
func (e *env) deadLetter(subject, body string, kv ...string) uint64 {
	e.t.Helper()
	msg := nats.NewMsg(e.s.DeadLetterCommands())
	msg.Data = []byte(body)
	msg.Header.Set(kybflow.HeaderDeadLetterReason, "invalid_command: lookupId is required")
	msg.Header.Set(kybflow.HeaderDeadLetterStream, e.s.CommandsStream())
	msg.Header.Set(kybflow.HeaderDeadLetterSequence, "42")
	if subject != "" {
		msg.Header.Set(kybflow.HeaderDeadLetterSubject, subject)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		msg.Header.Set(kv[i], kv[i+1])
	}
	ack, err := e.js.PublishMsg(e.ctx, msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return ack.Sequence
}

func seqs(all []deadletters.DeadLetter) []uint64 {
	out := make([]uint64, len(all))
	for i, d := range all {
		out[i] = d.Seq
	}
	return out
}

func TestStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if all, err := e.dl.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("List of an empty stream = %v, %v", all, err)
	}
	one := e.deadLetter(e.s.CommandLookup(), `{"type":"organization"}`)
	// Another subject of the stream is not a dead-lettered command.
	other, err := e.js.Publish(ctx, "aml.deadletter.other", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	two := e.deadLetter(e.s.CommandLookup(), `{"lookupId":"x","metadata":{"pad":"`, kybflow.HeaderDeadLetterTruncated, "true",
		kybflow.HeaderDeadLetterSize, "70000", kybflow.HeaderDeadLetterSHA256, "ab12")

	all, err := e.dl.List(ctx)
	if err != nil || !slices.Equal(seqs(all), []uint64{one, two}) {
		t.Fatalf("List = %v, %v; want %d and %d", seqs(all), err, one, two)
	}
	d := all[0]
	if stream, seq := d.Origin(); d.Reason() != "invalid_command: lookupId is required" || d.Subject() != "aml.commands.lookup" ||
		stream != "AML_COMMANDS" || seq != 42 || d.Truncated() || d.Size() != int64(len(d.Data)) || d.SHA256() != "" || d.Time.IsZero() {
		t.Errorf("dead letter %d reads as %+v", one, d)
	}
	if d := all[1]; !d.Truncated() || d.Size() != 70000 || d.SHA256() != "ab12" ||
		d.Truncation() != "truncated: the body is the first "+strconv.Itoa(len(d.Data))+" of the command's 70000 bytes (sha256 ab12)" {
		t.Errorf("truncated dead letter %d reads as %+v (%s)", two, d, d.Truncation())
	}

	if _, err := e.dl.Get(ctx, other.Sequence); !errors.Is(err, deadletters.ErrNotDeadLetter) {
		t.Errorf("Get of another subject's message: %v, want ErrNotDeadLetter", err)
	}
	if _, err := e.dl.Get(ctx, 999); !errors.Is(err, deadletters.ErrNotFound) {
		t.Errorf("Get(999): %v, want ErrNotFound", err)
	}
	if got, err := e.dl.Pick(ctx, []uint64{two, one}); err != nil || !slices.Equal(seqs(got), []uint64{two, one}) {
		t.Errorf("Pick(%d, %d) = %v, %v", two, one, seqs(got), err)
	}
	if _, err := e.dl.Pick(ctx, []uint64{one, 999}); !errors.Is(err, deadletters.ErrNotFound) {
		t.Errorf("Pick with a missing one: %v, want ErrNotFound", err)
	}
	if got, err := e.dl.Pick(ctx, nil); err != nil || len(got) != 2 {
		t.Errorf("Pick() = %v, %v; want all", seqs(got), err)
	}

	for i, want := range []bool{true, false} {
		if deleted, err := e.dl.Delete(ctx, one); err != nil || deleted != want {
			t.Errorf("Delete #%d = %t, %v; want %t", i+1, deleted, err, want)
		}
	}
	if all, err := e.dl.List(ctx); err != nil || !slices.Equal(seqs(all), []uint64{two}) {
		t.Errorf("List after Delete = %v, %v", seqs(all), err)
	}
}

func TestOpenMissing(t *testing.T) {
	t.Parallel()
	_, err := deadletters.Open(context.Background(), testenv.JetStream(t), kybflow.Subjects{Prefix: "acme"})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("Open without the stream: %v, want ErrStreamNotFound", err)
	}
}
