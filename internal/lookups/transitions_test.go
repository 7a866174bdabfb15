package lookups

import (
	"errors"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// TestTransitionsAllowedAndRefused walks each transition from each state:
// what it changes where it is allowed, and why it is refused elsewhere.
func TestTransitionsAllowedAndRefused(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cmd := kybflow.LookupCommand{LookupID: "t-1", Type: kybflow.TypeOrganization, Identifier: "923609016"}
	accepted := New(cmd, now, Trace{Parent: "00-aa-bb-01"})
	claim := Claim{Holder: "h", Seq: 3, Now: now, Lease: time.Minute}
	opening := accepted.clone()
	if err := opening.Claim(claim); err != nil || opening.State != Opening || opening.LeaseSeq != 3 || !opening.LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("Claim of an accepted lookup: %+v, %v", opening, err)
	}
	opened := opening.clone()
	if err := opened.Open("h", "s-1", now); err != nil || opened.State != Opened || opened.OpenedSeq != 3 || opened.LeaseHolder != "" {
		t.Fatalf("Open by the holder: %+v, %v", opened, err)
	}
	failure := kybflow.FailedData{LookupID: "t-1", Code: kybflow.CodeExpired}
	completed := opened.clone()
	if err := completed.Complete(opened.Phase(), now); err != nil || completed.State != Completed || !completed.FinishedAt.Equal(now) {
		t.Fatalf("Complete of an opened lookup: %+v, %v", completed, err)
	}
	erased := completed.clone()
	if err := erased.BeginErasure(now); err != nil || erased.State != Erased || erased.SessionID != "" || erased.Command.Identifier != "" {
		t.Fatalf("BeginErasure: %+v, %v", erased, err)
	}

	for _, c := range []struct {
		name string
		rec  Record
		t    Transition
		want error
	}{
		{"claim while another's lease runs", opening, func(r *Record) error { return r.Claim(Claim{Holder: "x", Now: now, Lease: time.Minute}) }, ErrMoved},
		{"claim within the skew after the lease", opening, func(r *Record) error {
			return r.Claim(Claim{Holder: "x", Now: now.Add(time.Minute + LeaseSkew/2), Lease: time.Minute})
		}, ErrMoved},
		{"claim once the lease and the skew ended", opening, func(r *Record) error {
			return r.Claim(Claim{Holder: "x", Now: now.Add(time.Minute + LeaseSkew), Lease: time.Minute})
		}, nil},
		{"claim an opened lookup", opened, func(r *Record) error { return r.Claim(claim) }, ErrMoved},
		{"claim an ended lookup", completed, func(r *Record) error { return r.Claim(claim) }, ErrEnded},
		{"claim an erased lookup", erased, func(r *Record) error { return r.Claim(claim) }, ErrErased},
		{"renew another's lease", opening, func(r *Record) error { return r.RenewLease("x", now) }, ErrMoved},
		{"release another's claim", opening, func(r *Record) error { return r.Release("x") }, ErrMoved},
		{"release our claim", opening, func(r *Record) error { return r.Release("h") }, nil},
		{"open under another's lease", opening, func(r *Record) error { return r.Open("x", "s-2", now) }, ErrMoved},
		{"open again what is opened", opened, func(r *Record) error { return r.Open("h", "s-1", now) }, ErrUnchanged},
		{"open an erased lookup", erased, func(r *Record) error { return r.Open("h", "s-1", now) }, ErrErased},
		{"store for another session", opened, func(r *Record) error {
			return r.Store(Phase{State: Opened, SessionID: "s-0"}, []kybflow.Artifact{{Name: "json"}}, nil, nil)
		}, ErrMoved},
		{"complete an opening lookup", opening, func(r *Record) error { return r.Complete(opening.Phase(), now) }, ErrMoved},
		{"complete twice", completed, func(r *Record) error { return r.Complete(opened.Phase(), now) }, ErrEnded},
		{"fail an ended lookup", completed, func(r *Record) error { return r.Fail(opened.Phase(), failure, now) }, ErrEnded},
		{"fail a claim taken over", opening, func(r *Record) error {
			return r.Fail(Phase{State: Opening, LeaseHolder: "x"}, failure, now)
		}, ErrMoved},
		{"fail our claim", opening, func(r *Record) error { return r.Fail(opening.Phase(), failure, now) }, nil},
		{"mark an ended lookup", completed, func(r *Record) error { return r.MarkPublished(kybflow.KindAccepted) }, ErrEnded},
		{"erase twice", erased, func(r *Record) error { return r.BeginErasure(now) }, ErrUnchanged},
		{"end an erasure not begun", opened, func(r *Record) error { return r.EndErasure() }, ErrMoved},
	} {
		before := c.rec.clone()
		r := c.rec.clone()
		err := c.t(&r)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && r.Phase() != before.Phase() {
			t.Errorf("%s: refused, but changed the record to %+v", c.name, r)
		}
	}

	failed := opening.clone()
	if err := failed.Fail(opening.Phase(), failure, now); err != nil || failed.State != Failed || failed.Failure.Code != kybflow.CodeExpired || failed.LeaseHolder != "" {
		t.Errorf("Fail of our claim: %+v, %v", failed, err)
	}
	if r := Rejected(cmd, failure, now, Trace{}); r.State != Failed || r.SessionID != "" || !r.FinishedAt.Equal(now) {
		t.Errorf("Rejected = %+v", r)
	}
	done := erased.clone()
	if err := done.EndErasure(); err != nil || !done.ErasureDone() || len(done.Artifacts) != 0 {
		t.Errorf("EndErasure: %+v, %v", done, err)
	}
}
