package handler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// testTopology is the worker's topology with test values.
var testTopology = streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour, DeadLetterMaxAge: time.Hour,
	LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10}

// newHandlers wires handlers on real NATS, the sandbox and a directory.
func newHandlers(t *testing.T) (*Handlers, *lookups.Store, jetstream.JetStream) {
	return newHandlersWith(t, nil)
}

func newHandlersWith(t *testing.T, wrap func(API) API) (*Handlers, *lookups.Store, jetstream.JetStream) {
	return newHandlersOn(t, sandbox.Config{}, wrap)
}

// newHandlersOn is newHandlersWith on a sandbox configured by sbCfg.
func newHandlersOn(t *testing.T, sbCfg sandbox.Config, wrap func(API) API) (*Handlers, *lookups.Store, jetstream.JetStream) {
	t.Helper()
	js := testenv.JetStream(t)
	res, err := streams.Ensure(context.Background(), js, testTopology)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.Start(sbCfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	api, err := amlapi.New(amlapi.Config{BaseURL: sb.URL(), IssuerURL: sb.IssuerURL(), ClientID: "sandbox", ClientSecret: "sandbox-secret"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := lookups.NewStore(res.Lookups)
	var a API = api
	if wrap != nil {
		a = wrap(api)
	}
	h, err := New(Config{API: a, Blobs: dir, Lookups: store, Publisher: js, Events: res.Events, DuplicateWindow: testTopology.Duplicates, Keys: kybflow.ObjectKeys{},
		Source: "urn:test", Lease: 15 * time.Second, MaxWait: time.Hour,
		Poll: Poll{Initial: 100 * time.Millisecond, Max: time.Second, MaxWithWebhooks: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return h, store, js
}

func terminalEvents(t *testing.T, js jetstream.JetStream, lookupID string) []string {
	t.Helper()
	s, err := js.Stream(context.Background(), "AML_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, k := range []kybflow.Kind{kybflow.KindCompleted, kybflow.KindFailed} {
		if _, err := s.GetLastMsgForSubject(context.Background(), "aml.events."+lookupID+"."+string(k)); err == nil {
			kinds = append(kinds, string(k))
		}
	}
	return kinds
}

// TestTwoEndingsOfOneLookupPublishOne: a poll completes a lookup while a
// webhook-triggered check, holding the same (now stale) revision, fails it.
// Exactly one ending may exist, the first.
func TestTwoEndingsOfOneLookupPublishOne(t *testing.T) {
	h, store, js := newHandlers(t)
	ctx := context.Background()
	rec := lookups.Record{
		State: lookups.Opened, SessionID: "s-1", OpenedAt: time.Now(),
		Command: kybflow.LookupCommand{LookupID: "raced", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"},
		Artifacts: []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "lookups/raced/json.json", Size: 2,
			SHA256: strings.Repeat("ab", 32), ContentType: "application/json"}},
	}
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := failed(h.complete(ctx, rec, rev, results{})); err != nil {
		t.Fatalf("complete: %v", err)
	}
	o := h.fail(ctx, rec, rev, results{}, kybflow.CodeExpired, "json expired") // the stale twin
	if act, _ := streams.Decide(ctx, o, 1, streams.Backoff{}); act == streams.ActRetry {
		t.Fatalf("the losing ending asks to be retried: %v", o)
	}
	if got := terminalEvents(t, js, "raced"); len(got) != 1 || got[0] != "completed" {
		t.Fatalf("terminal events %v, want only completed", got)
	}
	final, _, err := store.Get(ctx, "raced")
	if err != nil || final.State != lookups.Completed {
		t.Fatalf("record %+v, %v", final, err)
	}
}

// TestEndingSurvivesACrashBeforeItsEvent: a record made terminal whose
// event never went out (the process died in between) gets its event on the
// next delivery, once.
func TestEndingSurvivesACrashBeforeItsEvent(t *testing.T) {
	h, store, js := newHandlers(t)
	ctx := context.Background()
	data := kybflow.FailedData{LookupID: "crashed", Code: kybflow.CodeSessionFailed, Reason: "BankID session failed", Retryable: true}
	rec := lookups.Record{
		State: lookups.Failed, Failure: &data, SessionID: "s-2", FinishedAt: time.Now(),
		Command: kybflow.LookupCommand{LookupID: "crashed", Type: kybflow.TypeOrganization, Identifier: "923609016"},
	}
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a redelivered command, then a late webhook
		if err := failed(h.finish(ctx, rec)); err != nil {
			t.Fatal(err)
		}
	}
	if _, now, err := store.Get(ctx, "crashed"); err != nil || now != rev {
		t.Fatalf("the record was written (revision %d, was %d; %v): the events stream, not a mark, says the ending is out", now, rev, err)
	}
	if got := terminalEvents(t, js, "crashed"); len(got) != 1 || got[0] != "failed" {
		t.Fatalf("terminal events %v, want failed", got)
	}
	s, _ := js.Stream(ctx, "AML_EVENTS")
	info, _ := s.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("%d events, want 1", info.State.Msgs)
	}
}

// countingPublisher is the real JetStream, counting the publishes to each
// subject: a publish the stream drops as a duplicate is still one here.
type countingPublisher struct {
	Publisher
	mu sync.Mutex
	n  map[string]int
}

func (p *countingPublisher) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	p.mu.Lock()
	p.n[msg.Subject]++
	p.mu.Unlock()
	return p.Publisher.PublishMsg(ctx, msg, opts...)
}

func (p *countingPublisher) count(subject string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[subject]
}

// TestEndingIsPublishedOnceWhateverComesLater: an ending is published as it
// is written, with no mark; whatever comes later for the lookup (a
// redelivered check whose acknowledgement was lost, a duplicate command, a
// late webhook) publishes nothing, however late, since the events stream
// says it is out: no second event even after the stream's duplicate window.
// An ending whose event never went out is published by the next delivery,
// once; one that expired from the events stream is not published again.
func TestEndingIsPublishedOnceWhateverComesLater(t *testing.T) {
	h, store, _ := newHandlers(t)
	pub := &countingPublisher{Publisher: h.c.Publisher, n: map[string]int{}}
	h.c.Publisher = pub
	ctx := context.Background()
	subjects := kybflow.Subjects{}

	rec := lookups.Record{State: lookups.Opened, SessionID: "s-once", OpenedAt: time.Now(),
		Command: kybflow.LookupCommand{LookupID: "once", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"},
		Artifacts: []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "lookups/once/json.json", Size: 2,
			SHA256: strings.Repeat("ab", 32), ContentType: "application/json"}}}
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := failed(h.complete(ctx, rec, rev, results{})); err != nil {
		t.Fatal(err)
	}
	ended, endedRev, err := store.Get(ctx, "once")
	if err != nil || ended.State != lookups.Completed || endedRev != rev+1 {
		t.Fatalf("record %+v at revision %d (created at %d), %v: want completed in one write", ended, endedRev, rev, err)
	}
	completed := subjects.Event("once", kybflow.KindCompleted)
	for range 3 { // later deliveries
		if err := failed(h.finish(ctx, ended)); err != nil {
			t.Fatal(err)
		}
	}
	if n := pub.count(completed); n != 1 {
		t.Fatalf("completed published %d times, want 1: later deliveries must not publish an ending that is out", n)
	}

	data := kybflow.FailedData{LookupID: "crashed", Code: kybflow.CodeSessionFailed, Reason: "BankID session failed", Retryable: true}
	crashed := lookups.Record{State: lookups.Failed, Failure: &data, SessionID: "s-2", FinishedAt: time.Now(),
		Command: kybflow.LookupCommand{LookupID: "crashed", Type: kybflow.TypeOrganization, Identifier: "923609016"}}
	if _, err := store.Create(ctx, crashed); err != nil { // ended, then the process died
		t.Fatal(err)
	}
	for range 2 {
		if err := failed(h.finish(ctx, crashed)); err != nil {
			t.Fatal(err)
		}
	}
	if n := pub.count(subjects.Event("crashed", kybflow.KindFailed)); n != 1 {
		t.Fatalf("a failed event that never went out was published %d times by the next deliveries, want 1", n)
	}

	// None of its events kept, past the duplicate window: it may have been
	// out and expired (or purged, or erased); a re-publish would not be
	// dropped.
	gone := crashed
	gone.Command.LookupID, gone.Failure = "gone", &kybflow.FailedData{LookupID: "gone", Code: kybflow.CodeSessionFailed, Reason: "BankID session failed"}
	gone.FinishedAt = time.Now().Add(-testTopology.Duplicates - time.Minute)
	if err := failed(h.finish(ctx, gone)); err != nil {
		t.Fatal(err)
	}
	if n := pub.count(subjects.Event("gone", kybflow.KindFailed)); n != 0 {
		t.Fatalf("an ending with none of its lookup's events kept, past the duplicate window, was published again (%d)", n)
	}

	// Its other events kept, its ending not among them, however long ago
	// it ended: the writer died before publishing; published, once.
	kept := gone
	kept.Command = kybflow.LookupCommand{LookupID: "kept", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}
	kept.Failure = &kybflow.FailedData{LookupID: "kept", Code: kybflow.CodeSessionFailed, Reason: "BankID session failed"}
	if _, err := h.publishEvent(ctx, kybflow.KindAccepted, "kept", kept.Command.AcceptedData()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := failed(h.finish(ctx, kept)); err != nil {
			t.Fatal(err)
		}
	}
	if n := pub.count(subjects.Event("kept", kybflow.KindFailed)); n != 1 {
		t.Fatalf("an ending missing among its lookup's kept events was published %d times, want 1", n)
	}

	// The ending out, then an event a held-up replica published late.
	if _, err := h.publishEvent(ctx, kybflow.KindSessionOpened, "once", ended.Command.SessionOpenedData(ended.SessionID)); err != nil {
		t.Fatal(err)
	}
	if err := failed(h.finish(ctx, ended)); err != nil {
		t.Fatal(err)
	}
	if n := pub.count(completed); n != 1 {
		t.Fatalf("completed published %d times, want 1: an event after the ending hid it", n)
	}

	var repaired dto.Metric
	if err := h.c.Metrics.EndingsRepaired.Write(&repaired); err != nil {
		t.Fatal(err)
	}
	if n := repaired.GetCounter().GetValue(); n != 2 {
		t.Errorf("kybflow_endings_repaired_total %v, want 2 (crashed and kept)", n)
	}

	// The erased event says the lookup is gone.
	erased := gone
	erased.Command.LookupID, erased.FinishedAt = "erased", time.Now()
	erased.Failure = &kybflow.FailedData{LookupID: "erased", Code: kybflow.CodeSessionFailed, Reason: "BankID session failed"}
	if _, err := h.publishEvent(ctx, kybflow.KindErased, "erased", kybflow.ErasedData{LookupID: "erased", ErasedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := failed(h.finish(ctx, erased)); err != nil {
		t.Fatal(err)
	}
	if n := pub.count(subjects.Event("erased", kybflow.KindFailed)); n != 0 {
		t.Fatalf("erased: ending published (%d)", n)
	}
}

// cancelAfterCreate is the real client, with the caller's context cancelled
// the moment a session has been created: a drain racing the API's answer.
type cancelAfterCreate struct {
	API
	cancel context.CancelFunc
}

func (c cancelAfterCreate) CreateOrganizationSession(ctx context.Context, country amlapi.Country, req amlapi.CreateSessionRequest, opts amlapi.CreateOptions) (string, error) {
	id, err := c.API.CreateOrganizationSession(ctx, country, req, opts)
	c.cancel()
	return id, err
}

// TestOpenedSessionIsRecordedEvenWhenTheContextEnds: a session that exists
// upstream costs money; losing its id to a cancelled context would open a
// second one later.
func TestOpenedSessionIsRecordedEvenWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h, store, _ := newHandlersWith(t, func(a API) API { return cancelAfterCreate{API: a, cancel: cancel} })
	cmd := kybflow.LookupCommand{LookupID: "drained", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}
	rec := lookups.Record{State: lookups.Opening, Command: cmd, LeaseUntil: time.Now().Add(time.Minute), AcceptedAt: time.Now()}
	rev, err := store.Create(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	_ = h.open(ctx, rec, rev)
	got, _, err := store.Get(context.Background(), "drained")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lookups.Opened || got.SessionID == "" {
		t.Fatalf("record after a create whose context ended: state %s, session %q; want opened with the session", got.State, got.SessionID)
	}
}

// TestResultsStoredWhileErasedAreDeleted: a lookup erased (amlctl erase
// --force) while a check stored its results: the check's ending loses the
// compare-and-set to the tombstone, deletes what it stored, and publishes
// nothing.
func TestResultsStoredWhileErasedAreDeleted(t *testing.T) {
	h, store, js := newHandlers(t)
	ctx := context.Background()
	dir := h.c.Blobs.(*blob.Dir)
	key := "lookups/erased-mid/json.json"
	obj, err := dir.Put(ctx, key, strings.NewReader("{}"), 2, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := lookups.Record{
		State: lookups.Opened, SessionID: "s-1", OpenedAt: time.Now(),
		Command: kybflow.LookupCommand{LookupID: "erased-mid", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"},
	}
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	// The erasure lands first.
	if _, _, err := store.Apply(ctx, rec, rev, func(r *lookups.Record) error { return r.BeginErasure(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	stored := results{arts: []kybflow.Artifact{{Name: "json", Bucket: obj.Bucket, Key: key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType}}}
	o := h.complete(ctx, rec, rev, stored)
	if act, _ := streams.Decide(ctx, o, 1, streams.Backoff{}); act != streams.ActTerm {
		t.Fatalf("complete of an erased lookup: %v (%s), want it dropped", o, act)
	}
	if _, err := dir.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("object stored during the erasure: Stat = %v, want ErrNotFound", err)
	}
	if got := terminalEvents(t, js, "erased-mid"); len(got) != 0 {
		t.Errorf("terminal events %v for an erased lookup, want none", got)
	}
}
