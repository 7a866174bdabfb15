package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	if err := failed(openClaimed(t, h, store, id)); err != nil {
		t.Fatalf("open: %v", err)
	}
	return h, store, js, polls, pub
}

// failed is o as a test's error: nil when it acknowledges.
func failed(o outcome) error {
	if o.IsAck() {
		return nil
	}
	return fmt.Errorf("%s", o)
}

// openClaimed claims a new organization lookup id, as its command does
// (advance), and opens its session.
func openClaimed(t *testing.T, h *Handlers, store *lookups.Store, id string) outcome {
	t.Helper()
	cmd := kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016", Reports: []kybflow.ReportType{"aml"}}
	rec := lookups.New(cmd, time.Now(), lookups.Trace{})
	if err := rec.Claim(h.claim(1)); err != nil {
		t.Fatal(err)
	}
	rev, err := store.Create(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return h.open(context.Background(), rec, rev)
}

// firstCheck fetches the check in AML_CHECKS through the worker's consumer,
// and decodes it.
func firstCheck(t *testing.T, js jetstream.JetStream) (jetstream.Msg, CheckMessage) {
	t.Helper()
	ctx := context.Background()
	cons, err := js.Consumer(ctx, streams.NamesOf(kybflow.Subjects{}).ChecksStream(), streams.ConsumerChecks)
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
	var cm CheckMessage
	if err := json.Unmarshal(msg.Data(), &cm); err != nil {
		t.Fatal(err)
	}
	return msg, cm
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
	if n := pub.count(streams.NamesOf(subjects).Check("at-once")); n != 0 {
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
// the record, and never for longer than one interval (a clock behind the
// stream's); the next delivery polls. So the polls of a session are as
// many, and as far apart, as when the check made the first one.
func TestFirstCheckWaitsOutTheOpenersPoll(t *testing.T) {
	// A poll interval far longer than the test, so that the check is
	// surely not due yet when it is first handled, however slow the machine.
	poll := Poll{Initial: time.Minute, Max: 2 * time.Minute, MaxWithWebhooks: 2 * time.Minute}
	before := time.Now()
	h, store, js, polls, pub := openCounted(t, sandbox.Config{ReadyAfter: time.Hour}, poll, "later")
	subjects := kybflow.Subjects{}
	ctx := context.Background()
	if rec, _, err := store.Get(ctx, "later"); err != nil || rec.State != lookups.Opened {
		t.Fatalf("record %+v, %v: want opened", rec, err)
	}
	if n := pub.count(streams.NamesOf(subjects).Check("later")); n != 1 {
		t.Fatalf("%d checks published, want 1", n)
	}
	if n := polls.Load(); n != 1 {
		t.Fatalf("%d polls by the opener, want 1", n)
	}

	msg, cm := firstCheck(t, js)
	initial := h.c.Poll.Initial
	if cm.PollAfterMs != initial.Milliseconds() {
		t.Fatalf("check's first poll due after %d ms, want one poll interval (%s)", cm.PollAfterMs, initial)
	}

	o := h.Check(ctx, msg)
	act, delay := streams.Decide(ctx, o, 1, streams.Backoff{})
	if act != streams.ActRetry || delay <= 0 || delay > initial || !errors.Is(o.Err(), errNotReady) {
		t.Fatalf("check before it is due: %v, %s after %s (%v); want a retry within %s", act, delay, time.Since(before), o, initial)
	}
	if n := polls.Load(); n != 1 {
		t.Fatalf("a check before it is due polled (%d polls)", n)
	}

	// A replica whose clock is an hour behind the stream's waits one
	// interval at most.
	h.c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	o = h.Check(ctx, msg)
	if _, delay := streams.Decide(ctx, o, 1, streams.Backoff{}); delay != initial {
		t.Fatalf("check on a clock an hour behind: retried after %s (%v), want one interval (%s)", delay, o, initial)
	}

	// The next delivery polls, whatever the clock: the wait is once.
	if err := msg.Nak(); err != nil {
		t.Fatal(err)
	}
	again, _ := firstCheck(t, js)
	if md, err := again.Metadata(); err != nil || md.NumDelivered != 2 {
		t.Fatalf("redelivery metadata %+v, %v: want the second delivery", md, err)
	}
	o = h.Check(ctx, again)
	if act, _ := streams.Decide(ctx, o, 2, streams.Backoff{}); act != streams.ActRetry || !errors.Is(o.Err(), errNotReady) {
		t.Fatalf("second delivery of a session not ready: %v (%v), want a retry", act, o)
	}
	if n := polls.Load(); n != 2 {
		t.Fatalf("%d polls after the second delivery, want 2", n)
	}
}

// countingAnswers answers every status call with err (after counting it).
type countingAnswers struct {
	API
	err error
	n   *atomic.Int32
}

func (c countingAnswers) Session(context.Context, amlapi.Kind, string) (*amlapi.Session, error) {
	c.n.Add(1)
	return nil, c.err
}

// TestFirstPollThatCannotFinishHandsOverToTheCheck: a first poll whose
// status call fails (a transient fault, or a rate limit with a
// Retry-After) leaves the lookup opened and schedules its check, due one
// poll interval later or when the API said, whichever is later; the
// command is done.
func TestFirstPollThatCannotFinishHandsOverToTheCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want time.Duration
	}{
		{"transient", &amlapi.Error{Op: "get organization session", StatusCode: 503, Class: amlapi.Transient}, 100 * time.Millisecond},
		{"rate limited", &amlapi.Error{Op: "get organization session", StatusCode: 429, Class: amlapi.Transient, RetryAfter: time.Minute}, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			polls := new(atomic.Int32)
			h, store, js := newHandlersWith(t, func(a API) API { return countingAnswers{API: a, err: tc.err, n: polls} })
			ctx := context.Background()
			if err := failed(openClaimed(t, h, store, "faulty")); err != nil {
				t.Fatalf("open with a failing first poll: %v, want the command done", err)
			}
			if got, _, err := store.Get(ctx, "faulty"); err != nil || got.State != lookups.Opened {
				t.Fatalf("record %+v, %v: want opened", got, err)
			}
			if n := polls.Load(); n != 1 {
				t.Fatalf("%d polls by the opener, want 1", n)
			}
			if _, cm := firstCheck(t, js); cm.PollAfterMs != tc.want.Milliseconds() {
				t.Fatalf("check's first poll due after %d ms, want %s", cm.PollAfterMs, tc.want)
			}
		})
	}
}

// TestSessionFailedAtTheFirstPollEndsFailed: a session FAILED at the
// opener's poll ends the lookup failed there (its event out), with no
// check; the command is terminated, as the check would have been.
func TestSessionFailedAtTheFirstPollEndsFailed(t *testing.T) {
	h, store, _ := newHandlersWith(t, func(a API) API {
		return sessionAnswers{API: a, sess: &amlapi.Session{Status: amlapi.SessionFailed}}
	})
	pub := &countingPublisher{Publisher: h.c.Publisher, n: map[string]int{}}
	h.c.Publisher = pub
	ctx := context.Background()
	o := openClaimed(t, h, store, "failing")
	if act, _ := streams.Decide(ctx, o, 1, streams.Backoff{}); act != streams.ActTerm {
		t.Fatalf("open of a session failed at once: %v (%v), want term", act, o)
	}
	subjects := kybflow.Subjects{}
	if got, _, err := store.Get(ctx, "failing"); err != nil || got.State != lookups.Failed {
		t.Fatalf("record %+v, %v: want failed", got, err)
	}
	if n := pub.count(subjects.Event("failing", kybflow.KindFailed)); n != 1 {
		t.Errorf("failed published %d times, want once", n)
	}
	if n := pub.count(streams.NamesOf(subjects).Check("failing")); n != 0 {
		t.Errorf("%d checks published, want none", n)
	}
}

// TestRedeliveredCommandSchedulesTheCheckAtOnce: the redelivery of a
// command that opened a session (its first handler died after recording
// it) publishes the check without polling itself, due at once.
func TestRedeliveredCommandSchedulesTheCheckAtOnce(t *testing.T) {
	polls := new(atomic.Int32)
	h, store, js := newHandlersOn(t, sandbox.Config{ReadyAfter: time.Hour}, func(a API) API { return countingStatus{API: a, n: polls} })
	ctx := context.Background()
	rec := openedRecord("redelivered", time.Second)
	rec.OpenedSeq = 7
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := failed(h.advance(ctx, rec.Command, 7)); err != nil {
		t.Fatalf("redelivered command: %v", err)
	}
	if n := polls.Load(); n != 0 {
		t.Fatalf("the redelivery polled (%d polls)", n)
	}
	if _, cm := firstCheck(t, js); cm.LookupID != "redelivered" || cm.PollAfterMs != 0 {
		t.Fatalf("check %+v, want one for the lookup, due at once", cm)
	}
	if _, now, _ := store.Get(ctx, "redelivered"); now != rev {
		t.Fatalf("the redelivery wrote the record (revision %d, was %d)", now, rev)
	}
}
