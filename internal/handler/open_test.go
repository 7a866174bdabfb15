package handler

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/streams"
)

// countingStatus is the real client, counting the status calls (polls).
type countingStatus struct {
	API
	n *atomic.Int32
}

func (c countingStatus) Session(ctx context.Context, kind amlapi.Kind, id string) (*amlapi.Session, error) {
	c.n.Add(1)
	return c.API.Session(ctx, kind, id)
}

// openCounted opens a claimed lookup id on a sandbox configured by sbCfg,
// with the polling policy poll, counting polls and publishes.
func openCounted(t *testing.T, sbCfg sandbox.Config, poll Poll, id string) (*Handlers, *lookups.Store, jetstream.JetStream, *atomic.Int32, *countingPublisher) {
	t.Helper()
	polls := new(atomic.Int32)
	h, store, js := newHandlersOn(t, sbCfg, func(a API) API { return countingStatus{API: a, n: polls} })
	h.c.Poll = poll
	pub := &countingPublisher{Publisher: h.c.Publisher, n: map[string]int{}}
	h.c.Publisher = pub
	ctx := context.Background()
	cmd := kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016", Reports: []kybflow.ReportType{"aml"}}
	rec := h.claim(lookups.Record{Command: cmd, AcceptedAt: time.Now()}, 1)
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.open(ctx, rec, rev); err != nil {
		t.Fatalf("open: %v", err)
	}
	return h, store, js, polls, pub
}

// TestSessionReadyAtOnceEndsWithoutACheck: the command that opened a
// session polls it once itself; results ready then are stored and the
// lookup ends, with no check message at all.
func TestSessionReadyAtOnceEndsWithoutACheck(t *testing.T) {
	_, store, _, polls, pub := openCounted(t, sandbox.Config{ReadyAfter: time.Nanosecond, ReportInterval: time.Nanosecond},
		Poll{Initial: time.Minute, Max: time.Minute, MaxWithWebhooks: time.Minute}, "at-once")
	subjects := kybflow.Subjects{}
	rec, _, err := store.Get(context.Background(), "at-once")
	if err != nil || rec.State != lookups.Completed || len(rec.Artifacts) != 2 {
		t.Fatalf("record %+v, %v: want completed with the JSON and the report", rec, err)
	}
	if n := pub.count(subjects.Check("at-once")); n != 0 {
		t.Errorf("%d checks published, want none", n)
	}
	if n := pub.count(subjects.Event("at-once", kybflow.KindCompleted)); n != 1 {
		t.Errorf("completed published %d times, want once", n)
	}
	if n := polls.Load(); n != 1 {
		t.Errorf("%d polls, want 1", n)
	}
}

// TestFirstCheckWaitsOutTheOpenersPoll: a session not ready at the
// opener's poll gets its check, due one poll interval later: its first
// delivery before then asks to come back then, without polling or reading
// the record; once due, it polls. So the polls of a session are as many,
// and as far apart, as when the check made the first one.
func TestFirstCheckWaitsOutTheOpenersPoll(t *testing.T) {
	// A poll interval far longer than the test, so that the check is
	// surely not due yet when it is first handled, however slow the machine.
	poll := Poll{Initial: time.Minute, Max: 2 * time.Minute, MaxWithWebhooks: 2 * time.Minute}
	before := time.Now()
	h, store, js, polls, pub := openCounted(t, sandbox.Config{ReadyAfter: time.Hour}, poll, "later")
	after := time.Now()
	subjects := kybflow.Subjects{}
	ctx := context.Background()
	if rec, _, err := store.Get(ctx, "later"); err != nil || rec.State != lookups.Opened {
		t.Fatalf("record %+v, %v: want opened", rec, err)
	}
	if n := pub.count(subjects.Check("later")); n != 1 {
		t.Fatalf("%d checks published, want 1", n)
	}
	if n := polls.Load(); n != 1 {
		t.Fatalf("%d polls by the opener, want 1", n)
	}

	cons, err := js.Consumer(ctx, subjects.ChecksStream(), streams.ConsumerChecks)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var msg jetstream.Msg
	for m := range batch.Messages() {
		msg = m
	}
	if msg == nil {
		t.Fatalf("no check delivered: %v", batch.Error())
	}
	var cm kybflow.CheckMessage
	if err := json.Unmarshal(msg.Data(), &cm); err != nil {
		t.Fatal(err)
	}
	initial := h.c.Poll.Initial
	if cm.NotBefore.Before(before.Add(initial)) || cm.NotBefore.After(after.Add(initial)) {
		t.Fatalf("check due at %s, want one poll interval (%s) after the opener's poll, between %s and %s", cm.NotBefore, initial, before.Add(initial), after.Add(initial))
	}

	err = h.Check(ctx, msg)
	act, delay := streams.Decide(ctx, err, 1, streams.Backoff{})
	if act != streams.ActRetry || delay <= 0 || delay > initial || !errors.Is(err, errNotReady) {
		t.Fatalf("check before it is due: %v, %s after %s (%v); want a retry within %s", act, delay, time.Since(before), err, initial)
	}
	if n := polls.Load(); n != 1 {
		t.Fatalf("a check before it is due polled (%d polls)", n)
	}

	h.c.Now = func() time.Time { return time.Now().Add(initial) } // due
	err = h.Check(ctx, msg)
	if act, _ := streams.Decide(ctx, err, 1, streams.Backoff{}); act != streams.ActRetry || !errors.Is(err, errNotReady) {
		t.Fatalf("due check of a session not ready: %v (%v), want a retry", act, err)
	}
	if n := polls.Load(); n != 2 {
		t.Fatalf("%d polls after the due check, want 2", n)
	}
}

// TestFirstPollThatCannotFinishHandsOverToTheCheck: a first poll whose
// status call fails (a transient fault) leaves the lookup opened and
// schedules its check; the command is done.
func TestFirstPollThatCannotFinishHandsOverToTheCheck(t *testing.T) {
	transient := &amlapi.Error{Op: "get organization session", StatusCode: 503, Class: amlapi.Transient}
	h, store, _ := newHandlersWith(t, func(a API) API { return sessionAnswers{API: a, err: transient} })
	pub := &countingPublisher{Publisher: h.c.Publisher, n: map[string]int{}}
	h.c.Publisher = pub
	ctx := context.Background()
	cmd := kybflow.LookupCommand{LookupID: "faulty", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}
	rec := h.claim(lookups.Record{Command: cmd, AcceptedAt: time.Now()}, 1)
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.open(ctx, rec, rev); err != nil {
		t.Fatalf("open with a failing first poll: %v, want the command done", err)
	}
	if got, _, err := store.Get(ctx, "faulty"); err != nil || got.State != lookups.Opened {
		t.Fatalf("record %+v, %v: want opened", got, err)
	}
	if n := pub.count(kybflow.Subjects{}.Check("faulty")); n != 1 {
		t.Fatalf("%d checks published, want 1", n)
	}
}
