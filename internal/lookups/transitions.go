package lookups

// The transitions: every change of a lookup's record, each a method that
// says what it changes and when it is allowed. A transition that is not
// allowed changes nothing and says why:
//
//	ErrEnded      the lookup ended (completed or failed): finish it
//	ErrErased     an operator erased it: leave it alone
//	ErrMoved      it moved on elsewhere (another replica): decide again
//	ErrUnchanged  it is already as the transition would make it: nothing to write
//
// Store.Apply writes them by compare-and-set.
//
//	(none) ──New──▶ accepted ──Claim──▶ opening ──Open──▶ opened ──Complete──▶ completed
//	                    ▲                  │                 │
//	                    └─────Release──────┘                 └──Fail──▶ failed (from any live state)
//	(none) ──Rejected──▶ failed
//	(any)  ──BeginErasure──▶ erased ──EndErasure──▶ erased, its event out (a tombstone)

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/kybflow/kybflow"
)

// Why a transition is not allowed. Each is returned wrapped.
var (
	ErrEnded     = errors.New("lookup ended")
	ErrErased    = errors.New("lookup erased")
	ErrMoved     = errors.New("lookup moved on elsewhere")
	ErrUnchanged = errors.New("lookup unchanged")
)

// LeaseSkew is how far past a lease's end another replica waits before it
// takes over: room for clocks that differ between replicas.
const LeaseSkew = time.Second

// New is the record of a valid command just taken in (state accepted), at
// time at, in the trace tr of its command.
func New(cmd kybflow.LookupCommand, at time.Time, tr Trace) Record {
	return Record{Version: Version, State: Accepted, Command: cmd, AcceptedAt: at, Traceparent: tr.Parent, Tracestate: tr.State}
}

// Rejected is the record of an invalid command (state failed, with its
// failure, no session): it holds the lookupId, so that a valid command
// reusing it later does not open a session for a lookup already ended.
func Rejected(cmd kybflow.LookupCommand, f kybflow.FailedData, at time.Time, tr Trace) Record {
	r := New(cmd, at, tr)
	r.State, r.Failure, r.FinishedAt = Failed, &f, at
	return r
}

// live refuses a transition on a lookup that ended or was erased.
func (r *Record) live() error {
	switch {
	case r.State.Terminal():
		return fmt.Errorf("%w (%s)", ErrEnded, r.State)
	case r.State == Erased:
		return ErrErased
	}
	return nil
}

// in refuses a transition decided on phase seen once the record left it.
func (r *Record) in(seen Phase) error {
	if err := r.live(); err != nil {
		return err
	}
	if r.Phase() != seen {
		return fmt.Errorf("%w (state %s)", ErrMoved, r.State)
	}
	return nil
}

// Claim is one replica's claim to open a lookup's session.
type Claim struct {
	Holder string        // a fresh token (NewHolder)
	Seq    uint64        // the stream sequence of the command that claims
	Now    time.Time     // the claimer's clock
	Lease  time.Duration // how long the claim holds without renewal
}

// Claim makes the lookup opening under c's lease. Allowed on an accepted
// lookup, or an opening one whose lease ended (its holder died) LeaseSkew
// ago; ErrMoved while another holder's lease runs.
func (r *Record) Claim(c Claim) error {
	if err := r.live(); err != nil {
		return err
	}
	switch {
	case r.State == Accepted:
	case r.State == Opening && !c.Now.Before(r.LeaseUntil.Add(LeaseSkew)):
	default:
		return fmt.Errorf("%w (state %s, lease until %s)", ErrMoved, r.State, r.LeaseUntil.Format(time.RFC3339))
	}
	r.State, r.LeaseUntil, r.LeaseHolder, r.LeaseSeq = Opening, c.Now.Add(c.Lease), c.Holder, c.Seq
	return nil
}

// RenewLease moves the end of holder's lease to until. Allowed while
// holder holds it; ErrMoved once another replica took over.
func (r *Record) RenewLease(holder string, until time.Time) error {
	if err := r.held(holder); err != nil {
		return err
	}
	r.LeaseUntil = until
	return nil
}

// Release gives holder's claim back (state accepted), so that the next
// delivery of the command may claim at once. Allowed while holder holds it.
func (r *Record) Release(holder string) error {
	if err := r.held(holder); err != nil {
		return err
	}
	r.State, r.LeaseUntil, r.LeaseHolder, r.LeaseSeq = Accepted, time.Time{}, "", 0
	return nil
}

func (r *Record) held(holder string) error {
	if err := r.live(); err != nil {
		return err
	}
	if r.State != Opening || r.LeaseHolder != holder {
		return fmt.Errorf("%w (state %s): the opening lease was taken over", ErrMoved, r.State)
	}
	return nil
}

// Open records the session that holder's claim created, at time at:
// opened, by the command that held the lease. Allowed while holder holds
// the lease; ErrUnchanged when it is recorded already (a write that
// landed unheard).
func (r *Record) Open(holder, sessionID string, at time.Time) error {
	if r.State == Opened && r.SessionID == sessionID {
		return ErrUnchanged
	}
	if err := r.held(holder); err != nil {
		return err
	}
	r.State, r.SessionID, r.OpenedAt, r.OpenedSeq = Opened, sessionID, at, r.LeaseSeq
	r.LeaseUntil, r.LeaseHolder, r.LeaseSeq = time.Time{}, "", 0
	return nil
}

// Store records artifacts stored for an opened lookup (replacing any of
// the same name: their keys are the same), the expands the API left out
// when omitted is not nil, and the summary of the JSON result when summary
// is not nil. Allowed while the lookup is in phase seen.
func (r *Record) Store(seen Phase, arts []kybflow.Artifact, omitted []string, summary *kybflow.Summary) error {
	if err := r.in(seen); err != nil {
		return err
	}
	for _, a := range arts {
		if i := slices.IndexFunc(r.Artifacts, func(x kybflow.Artifact) bool { return x.Name == a.Name }); i >= 0 {
			r.Artifacts[i] = a
		} else {
			r.Artifacts = append(r.Artifacts, a)
		}
	}
	if omitted != nil {
		r.OmittedExpands = slices.Clone(omitted)
	}
	if summary != nil {
		r.Summary = summary.Clone()
	}
	return nil
}

// NoteResults records, for an opened lookup whose JSON is stored, the
// report links the JSON gives (when links is not nil) and until when the
// results can be downloaded (when until is not zero; the earliest
// recorded wins). Allowed while it is in phase seen.
func (r *Record) NoteResults(seen Phase, links map[string]string, until time.Time) error {
	if err := r.in(seen); err != nil {
		return err
	}
	if links != nil {
		r.ReportLinks = maps.Clone(links)
	}
	if !until.IsZero() && (r.ResultsUntil.IsZero() || until.Before(r.ResultsUntil)) {
		r.ResultsUntil = until
	}
	return nil
}

// Miss records the wanted reports a lookup completes without (they never
// appeared within the wait its results allow), sorted. Allowed while it is
// in phase seen; the ending (Complete) follows on the same write.
func (r *Record) Miss(seen Phase, reports []string) error {
	if err := r.in(seen); err != nil {
		return err
	}
	for _, x := range reports {
		if !slices.Contains(r.MissingReports, x) {
			r.MissingReports = append(r.MissingReports, x)
		}
	}
	slices.Sort(r.MissingReports)
	return nil
}

// Complete ends an opened lookup completed, at time at; its caller has
// stored every result (Store). Allowed while it is in phase seen, which
// must be opened.
func (r *Record) Complete(seen Phase, at time.Time) error {
	if err := r.in(seen); err != nil {
		return err
	}
	if r.State != Opened {
		return fmt.Errorf("%w: complete a lookup in state %s", ErrMoved, r.State)
	}
	r.State, r.FinishedAt = Completed, at
	return nil
}

// Fail ends the lookup failed with f, at time at. Allowed while it is in
// phase seen: a failure decided on one session, or one claim, is not the
// verdict on another.
func (r *Record) Fail(seen Phase, f kybflow.FailedData, at time.Time) error {
	if err := r.in(seen); err != nil {
		return err
	}
	r.State, r.Failure, r.FinishedAt = Failed, &f, at
	r.LeaseUntil, r.LeaseHolder, r.LeaseSeq = time.Time{}, "", 0
	return nil
}

// Compare records a monitor run's comparison with the previous run.
// Allowed while the lookup is in phase seen; ErrUnchanged when compared
// already.
func (r *Record) Compare(seen Phase, c Comparison) error {
	if err := r.in(seen); err != nil {
		return err
	}
	if r.Comparison != nil {
		return ErrUnchanged
	}
	c.Blocks = slices.Clone(c.Blocks)
	r.Comparison = &c
	return nil
}

// MarkPublished marks a non-terminal event as published; the caller
// published it first. Allowed on a live lookup.
func (r *Record) MarkPublished(kind kybflow.Kind) error {
	if err := r.live(); err != nil {
		return err
	}
	if !slices.Contains(r.Published, string(kind)) {
		r.Published = append(r.Published, string(kind))
	}
	return nil
}

// Then is the transition a followed by b, on the same write.
func Then(a, b Transition) Transition {
	return func(r *Record) error {
		if err := a(r); err != nil {
			return err
		}
		return b(r)
	}
}
