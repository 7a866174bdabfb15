package handler

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// slowCreate is the real client with every create-session call held for
// delay first (or until its context ends), counting the calls that reached
// the API.
type slowCreate struct {
	API
	delay    time.Duration
	creates  *atomic.Int32
	canceled *atomic.Int32
}

func (s slowCreate) CreateOrganizationSession(ctx context.Context, country amlapi.Country, req amlapi.CreateSessionRequest, opts amlapi.CreateOptions) (string, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		s.canceled.Add(1)
		return "", ctx.Err()
	}
	s.creates.Add(1)
	return s.API.CreateOrganizationSession(ctx, country, req, opts)
}

var leaseCmd = kybflow.LookupCommand{LookupID: "leased", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
	IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}

func newSlowHandlers(t *testing.T, delay, lease time.Duration) (*Handlers, *lookups.Store, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var creates, canceled atomic.Int32
	h, store, _ := newHandlersWith(t, func(a API) API { return slowCreate{API: a, delay: delay, creates: &creates, canceled: &canceled} })
	h.c.Lease = lease
	return h, store, &creates, &canceled
}

// A live holder keeps its claim through a create call three leases long: no
// other replica takes over, a concurrent duplicate command is acknowledged
// at once (it does not wait out the lease), and one session is opened.
func TestLiveOpenerRenewsItsLease(t *testing.T) {
	const lease = 1500 * time.Millisecond
	h, store, creates, _ := newSlowHandlers(t, 3*lease, lease)
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { first <- failed(h.advance(ctx, leaseCmd, 1)) }()
	testenv.Eventually(t, 5*time.Second, func() error {
		rec, _, err := store.Get(ctx, leaseCmd.LookupID)
		if err != nil || rec.State != lookups.Opening {
			return errors.New("not claimed yet")
		}
		return nil
	})
	deadline := time.Now().Add(2 * lease)
	for time.Now().Before(deadline) { // duplicates over two leases: each acknowledged, none takes over
		o := h.advance(ctx, leaseCmd, 2)
		if act, _ := streams.Decide(ctx, o, 1, streams.Backoff{}); act != streams.ActAck {
			t.Fatalf("a duplicate command while the lease is held: %s (%v), want ack", act, o)
		}
		time.Sleep(lease / 3) // sleep: pacing the duplicates across the lease, not waiting for a state
	}
	if err := <-first; err != nil {
		t.Fatalf("the holder's command: %v", err)
	}
	rec, _, err := store.Get(ctx, leaseCmd.LookupID)
	if err != nil || rec.State != lookups.Opened || rec.SessionID == "" {
		t.Fatalf("record %v, %v; want opened", rec, err)
	}
	if n := creates.Load(); n != 1 {
		t.Fatalf("%d sessions created, want 1", n)
	}
}

// A holder that died leaves a lease that nobody renews: the redelivery of
// its command takes the lookup over once the lease has ended.
func TestDeadOpenersLeaseIsTakenOver(t *testing.T) {
	h, store, creates, _ := newSlowHandlers(t, 0, 1500*time.Millisecond)
	ctx := context.Background()
	rec := lookups.Record{State: lookups.Opening, Command: leaseCmd, AcceptedAt: time.Now(),
		LeaseUntil: time.Now().Add(500 * time.Millisecond), LeaseHolder: "dead", LeaseSeq: 1}
	if _, err := store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	act, delay := streams.Decide(ctx, h.advance(ctx, leaseCmd, 1), 1, streams.Backoff{})
	if act != streams.ActRetry || delay <= 0 || delay > 500*time.Millisecond+lookups.LeaseSkew {
		t.Fatalf("its own command while the lease runs: %s after %s, want a retry when the lease ends", act, delay)
	}
	testenv.Eventually(t, 10*time.Second, func() error { return failed(h.advance(ctx, leaseCmd, 1)) })
	got, _, _ := store.Get(ctx, leaseCmd.LookupID)
	if got.State != lookups.Opened || creates.Load() != 1 {
		t.Fatalf("after the take-over: state %s, %d sessions; want opened, 1", got.State, creates.Load())
	}
}

// A holder whose lease another replica took over (it was cut off past its
// lease) stops its create call rather than race the new holder.
func TestOpenerStopsWhenItsLeaseIsTakenOver(t *testing.T) {
	const lease = 1500 * time.Millisecond
	h, store, creates, canceled := newSlowHandlers(t, time.Minute, lease)
	ctx := context.Background()
	first := make(chan outcome, 1)
	go func() { first <- h.advance(ctx, leaseCmd, 1) }()
	var rec lookups.Record
	var rev uint64
	testenv.Eventually(t, 5*time.Second, func() (err error) {
		rec, rev, err = store.Get(ctx, leaseCmd.LookupID)
		if err == nil && rec.State != lookups.Opening {
			err = errors.New("not claimed yet")
		}
		return err
	})
	// Another replica, whose clock says the lease ended, takes it over.
	takeOver := lookups.Claim{Holder: "another", Seq: 2, Now: rec.LeaseUntil.Add(lookups.LeaseSkew), Lease: time.Hour}
	if _, _, err := store.Apply(ctx, rec, rev, func(r *lookups.Record) error { return r.Claim(takeOver) }); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-first:
		if act, _ := streams.Decide(ctx, o, 1, streams.Backoff{}); act != streams.ActRetry {
			t.Fatalf("the overtaken holder: %s (%v), want retry", act, o)
		}
	case <-time.After(3 * lease):
		t.Fatal("the overtaken holder went on with its create call")
	}
	got, _, _ := store.Get(ctx, leaseCmd.LookupID)
	if got.LeaseHolder != "another" || creates.Load() != 0 || canceled.Load() != 1 {
		t.Fatalf("holder %q, %d creates, %d cancelled; want the new holder's claim untouched and the call cancelled", got.LeaseHolder, creates.Load(), canceled.Load())
	}
}
